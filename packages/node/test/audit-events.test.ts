import pino from 'pino';
import { EventHub, diffMembers, type HubEvent, type HubSource, type MemberLine } from '../src/events';
import type { AuditEntry } from '../src/audit/audit-entry';

const line = (id: string, over: Partial<MemberLine> = {}): MemberLine => ({
  id,
  status: 'UP',
  address: `127.0.0.1:${id.length}`,
  applied_seq: 1,
  lag: 0,
  cache: { credentials: { size: 1, hits: 0, misses: 1 } },
  ...over,
});

describe('membership changes as events', () => {
  it('says who joined, went down, came back, left and was removed', () => {
    const a = line('a');
    const b = line('b');
    const first = diffMembers(new Map(), [a, b]);
    expect(first.map((e) => [e.event, e.data.node, e.data.change])).toEqual([
      ['member', 'a', 'joined'],
      ['member', 'b', 'joined'],
    ]);
    const prev = new Map([['a', a], ['b', b]]);
    expect(diffMembers(prev, [a, { ...b, status: 'DOWN' }]).map((e) => e.data.change)).toEqual(['down']);
    expect(diffMembers(new Map([['b', { ...b, status: 'DOWN' }]]), [b]).map((e) => e.data.change)).toEqual(['up']);
    expect(diffMembers(prev, [a, { ...b, status: 'DOWN', left: true }]).map((e) => e.data.change)).toEqual(['left']);
    expect(diffMembers(prev, [a]).map((e) => [e.data.node, e.data.change])).toEqual([['b', 'removed']]);
  });

  it('sends stats when only a member\'s cache numbers changed, and nothing when nothing did', () => {
    const a = line('a');
    expect(diffMembers(new Map([['a', a]]), [{ ...a, heartbeat_age_ms: 5 } as MemberLine])).toEqual([]);
    const more = { ...a, cache: { credentials: { size: 2, hits: 1, misses: 1 } } };
    expect(diffMembers(new Map([['a', a]]), [more])).toEqual([{ event: 'stats', data: { ...more, change: 'stats', node: 'a' } }]);
  });
});

class FakeSource implements HubSource {
  nodeId = 'self';
  status = 'UP';
  seq = 1;
  lines: MemberLine[] = [line('self', { self: true } as never), line('other')];
  failMembers = false;
  trail: AuditEntry[] = [];
  health() {
    return { status: this.status, redis: 'connected', sync_age_ms: 10 };
  }
  appliedSeq() {
    return this.seq;
  }
  async members() {
    if (this.failMembers) throw new Error('redis down');
    return this.lines.map((l) => ({ ...l }));
  }
  async auditLatestId() {
    return this.trail[this.trail.length - 1]?.id ?? '0-0';
  }
  async auditAfter(id: string) {
    return this.trail.filter((e) => e.id!.localeCompare(id, undefined, { numeric: true }) > 0);
  }
}

const audit = (n: number): AuditEntry => ({ id: `${n}-0`, ts: 'x', actor: 'token', address: 'a', action: 'flush_all', target: 'all caches', seq: n, status: 200, nodes: null });

describe('the event hub', () => {
  const setup = (maxClients = 2) => {
    const src = new FakeSource();
    const hub = new EventHub(src, { intervalMs: 60_000, maxClients, log: pino({ level: 'silent' }) });
    const got: HubEvent[] = [];
    return { src, hub, got, listen: () => hub.subscribe((e) => got.push(e)) };
  };

  it('gives a new client the current state, then only what changes', async () => {
    const { src, hub, got, listen } = setup();
    await hub.ready();
    const snap = hub.snapshot();
    expect(snap.map((e) => `${e.event}:${e.data.node}`)).toEqual(['member:self', 'member:other', 'applied:other', 'applied:self', 'sync:self']);
    const off = listen()!;
    await hub.tick();
    expect(got).toEqual([]);

    src.seq = 2;
    src.lines[0] = { ...src.lines[0]!, applied_seq: 2 };
    src.lines[1] = { ...src.lines[1]!, status: 'DOWN', lag: 1 };
    src.status = 'DEGRADED';
    await hub.tick();
    expect(got.map((e) => [e.event, e.data.node, e.data.change ?? e.data.status ?? e.data.seq])).toEqual([
      ['sync', 'self', 'DEGRADED'],
      ['member', 'other', 'down'],
      ['applied', 'other', 1],
      ['applied', 'self', 2],
    ]);
    expect(got.find((e) => e.event === 'applied' && e.data.node === 'self')!.data).toEqual({ seq: 2, node: 'self', lag: 0 });
    off();
    hub.stop();
  });

  it('follows the audit trail from its end, cluster-wide', async () => {
    const { src, hub, got, listen } = setup();
    src.trail = [audit(1)];
    await hub.ready();
    listen();
    src.trail.push(audit(2), audit(3));
    await hub.tick();
    await hub.tick();
    expect(got.filter((e) => e.event === 'audit').map((e) => e.data.id)).toEqual(['2-0', '3-0']);
    hub.stop();
  });

  it('keeps reporting its own applied seq while the membership is unreadable', async () => {
    const { src, hub, got, listen } = setup();
    await hub.ready();
    listen();
    src.failMembers = true;
    src.seq = 7;
    await hub.tick();
    expect(got).toEqual([{ event: 'applied', data: { seq: 7, node: 'self', lag: 0 } }]);
    hub.stop();
  });

  it('refuses clients beyond its bound, and forgets its state when the last one leaves', async () => {
    const { hub, listen } = setup(2);
    const a = listen()!;
    const b = listen()!;
    expect(hub.full()).toBe(true);
    expect(listen()).toBeUndefined();
    expect(hub.clients).toBe(2);
    await hub.ready();
    a();
    b();
    expect(hub.clients).toBe(0);
    expect(hub.snapshot()).toEqual([]);
  });

  it('shares one read between concurrent ticks', async () => {
    const { src, hub } = setup();
    let reads = 0;
    const members = src.members.bind(src);
    src.members = async () => {
      reads++;
      return members();
    };
    await Promise.all([hub.tick(), hub.tick(), hub.tick()]);
    expect(reads).toBe(1);
  });
});
