/**
 * The Membership class on an in-memory store with a clock of its own (the store's clock, as Redis's
 * TIME): nothing it decides depends on the node's clock, rejects are counted once and logged at most
 * once per 10 s, forgotten members are deleted, removal does not race a revived member.
 */

import { clusterNames } from '@authcache/protocol';
import { Membership, type MembershipOptions } from '../src/membership';
import { HeartbeatCodec, STORED_PREFIX, type HeartbeatContent } from '../src/membership/heartbeat-codec';
import type { MemberStore, MembersSnapshot } from '../src/membership/scripts';

const SECRET = 'the-cluster-secret';
const HEARTBEAT_MS = 1000;
const DOWN_AFTER_MS = 3 * HEARTBEAT_MS + 500;
const FORGET_MS = 60_000;

class MemoryStore implements MemberStore {
  t = 1_800_000_000_000;
  seq = 0;
  marker_: string | undefined;
  readonly entries = new Map<string, string>();
  failing = false;

  async beat(id: string, signed: string, mine: string): Promise<boolean> {
    this.check();
    this.entries.set(id, `${STORED_PREFIX}|${this.t}|${this.seq}|${signed}`);
    this.marker_ ??= mine;
    return this.marker_ === mine;
  }
  async read(): Promise<MembersSnapshot> {
    this.check();
    return { redisNowMs: this.t, raw: new Map(this.entries), clusterSeq: this.seq };
  }
  async deleteIf(id: string, value: string): Promise<boolean> {
    this.check();
    if (this.entries.get(id) !== value) return false;
    return this.entries.delete(id);
  }
  async marker(mine: string): Promise<string | null> {
    this.check();
    this.marker_ ??= mine;
    return this.marker_;
  }
  private check(): void {
    if (this.failing) throw new Error('store unreachable');
  }
}

const flush = () => new Promise((r) => setImmediate(r));

function node(store: MemoryStore, id: string, opts: { secret?: string; now?: () => number } = {}) {
  const log = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() };
  const content: HeartbeatContent = { address: `addr-${id}`, applied_seq: 0, started: 0, cache: {} };
  const o: MembershipOptions = {
    redis: undefined as never,
    names: clusterNames('t'),
    config: { nodeId: id, heartbeatMs: HEARTBEAT_MS, clusterSecret: opts.secret ?? SECRET, memberForgetMs: FORGET_MS },
    log: log as unknown as MembershipOptions['log'],
    content: () => content,
    store,
    now: opts.now,
  };
  const m = new Membership(o);
  /** One heartbeat now, as the timer would write it. */
  const beat = async () => {
    await (m as unknown as { beat(): Promise<void> }).beat();
  };
  return { m, log, content, beat };
}

describe('Membership on an in-memory store', () => {
  afterEach(() => jest.restoreAllMocks());

  it('judges by the store clock only: a node clock hours off changes nothing', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const b = node(store, 'b');
    await a.beat();
    await b.beat();
    jest.spyOn(Date, 'now').mockReturnValue(0);
    expect(await a.m.expected()).toEqual({ live: ['a', 'b'], down: [] });
    store.t += DOWN_AFTER_MS - 1;
    await a.beat();
    expect(await a.m.expected()).toEqual({ live: ['a', 'b'], down: [] });
    store.t += 1;
    expect(await a.m.expected()).toEqual({ live: ['a'], down: [{ node: 'b', last_seen_ms: DOWN_AFTER_MS }] });
  });

  it('a silent member is listed DOWN and expected as down until the forget time; then it is deleted', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const b = node(store, 'b');
    await b.beat();
    store.t += FORGET_MS - 1;
    await a.beat();
    expect((await a.m.list()).map((x) => [x.id, x.status, x.heartbeat_age_ms])).toEqual([['a', 'UP', 0], ['b', 'DOWN', FORGET_MS - 1]]);
    expect((await a.m.expected()).down).toEqual([{ node: 'b', last_seen_ms: FORGET_MS - 1 }]);
    store.t += 1;
    expect((await a.m.list()).map((x) => x.id)).toEqual(['a']);
    expect(await a.m.expected()).toEqual({ live: ['a'], down: [] });
    await flush();
    expect(store.entries.has('b')).toBe(false);
    expect(a.log.info).toHaveBeenCalledWith({ member: 'b', last_seen_ms: FORGET_MS }, expect.stringMatching(/^member forgotten/));
  });

  it('does not forget a member that beat again between the read and the delete', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const b = node(store, 'b');
    await b.beat();
    store.t += FORGET_MS;
    const list = a.m.list();
    // b revives while a's delete is on its way: the delete compares the value it judged.
    const revive = b.beat();
    await Promise.all([list, revive]);
    await flush();
    expect(store.entries.has('b')).toBe(true);
    expect(await a.m.expected()).toEqual({ live: ['b'], down: [] });
  });

  it('remove(): refuses a live member, removes a silent or departed one, 404s the rest', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const b = node(store, 'b');
    const c = node(store, 'c');
    await Promise.all([a.beat(), b.beat(), c.m.start()]);
    await c.m.stop();
    expect(await a.m.remove('b')).toBe('live');
    expect(await a.m.remove('c')).toBe('removed');
    store.t += DOWN_AFTER_MS;
    expect(await a.m.remove('b')).toBe('removed');
    expect(await a.m.remove('b')).toBe('unknown');
    expect(await a.m.remove('zz')).toBe('unknown');
    expect([...store.entries.keys()]).toEqual(['a']);
  });

  it('counts each rejected heartbeat once and logs at most once per 10 s', async () => {
    let t = 0;
    const store = new MemoryStore();
    const a = node(store, 'a', { now: () => t });
    const w = node(store, 'w', { secret: 'other' });
    await a.beat();
    await w.beat();
    store.entries.set('junk', '{"not":"signed"}');
    for (let i = 0; i < 5; i++) expect((await a.m.expected()).live).toEqual(['a']);
    expect(a.m.rejectedHeartbeats()).toBe(2);
    expect(a.log.warn).toHaveBeenCalledTimes(1);
    await w.beat();
    store.t += 1;
    await w.beat();
    await a.m.expected();
    expect(a.m.rejectedHeartbeats()).toBe(3);
    expect(a.log.warn).toHaveBeenCalledTimes(1);
    t += 10_000;
    await a.m.expected();
    expect(a.log.warn).toHaveBeenCalledTimes(2);
  });

  it('a heartbeat copied under another member id is rejected', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    await a.beat();
    store.entries.set('ghost', store.entries.get('a')!);
    expect((await a.m.list()).map((x) => x.id)).toEqual(['a']);
    expect(a.m.rejectedHeartbeats()).toBe(1);
  });

  it('the secret marker: first one wins; a node with another secret finds it differs, also at every heartbeat', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const w = node(store, 'w', { secret: 'other' });
    expect(await a.m.verifySecret()).toBe(true);
    expect(await w.m.verifySecret()).toBe(false);
    store.marker_ = undefined;
    await w.beat();
    // Redis lost the marker and the wrong node set it first: the good node learns at its next heartbeat.
    await a.beat();
    expect(a.m.secretMatches()).toBe(false);
    expect(a.log.warn).toHaveBeenCalledWith(expect.stringMatching(/AUTHCACHE_CLUSTER_SECRET differs/));
  });

  it('a store failure never escapes the heartbeat loop; list and expected reject (the route turns that into 503)', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    store.failing = true;
    await expect(a.beat()).resolves.toBeUndefined();
    expect(a.log.debug).toHaveBeenCalledWith({ err: 'store unreachable' }, 'heartbeat not written');
    await expect(a.m.list()).rejects.toThrow('store unreachable');
  });

  it('expected() falls back to the last members read when the store cannot be read, and rejects without one', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const b = node(store, 'b');
    const fresh = node(store, 'c');
    await Promise.all([a.beat(), b.beat()]);
    expect((await a.m.expected()).live).toEqual(['a', 'b']);
    store.failing = true;
    // A read a heartbeat old or a new version would be read again: it fails, the last read stands in.
    store.t += 60_000;
    expect((await a.m.expected('a version never read')).live).toEqual(['a', 'b']);
    expect((await a.m.expected()).live).toEqual(['a', 'b']);
    await expect(fresh.m.expected()).rejects.toThrow('store unreachable');
  });

  it('a member UP a moment ago and gone from the hash (Redis lost its state) is still waited for, until it would be DOWN', async () => {
    const store = new MemoryStore();
    let t = 0;
    const a = node(store, 'a', { now: () => t });
    const b = node(store, 'b');
    await Promise.all([a.beat(), b.beat()]);
    expect((await a.m.expected()).live).toEqual(['a', 'b']);
    // Redis restarts empty; only a has beaten since.
    store.entries.clear();
    await a.beat();
    t += HEARTBEAT_MS;
    store.t += HEARTBEAT_MS;
    expect(await a.m.expected('after the restart')).toEqual({ live: ['a', 'b'], down: [] });
    expect(a.log.warn).toHaveBeenCalledWith({ members: ['b'] }, expect.stringContaining('missing from redis'));
    // b never comes back: once it would be DOWN, it is no longer waited for.
    t += DOWN_AFTER_MS;
    store.t += DOWN_AFTER_MS;
    await a.beat();
    expect(await a.m.expected('later')).toEqual({ live: ['a'], down: [] });
  });

  it('a member removed while DOWN is not taken for one Redis lost', async () => {
    const store = new MemoryStore();
    let t = 0;
    const a = node(store, 'a', { now: () => t });
    const c = node(store, 'c');
    await Promise.all([a.beat(), c.beat()]);
    expect((await a.m.expected()).live).toEqual(['a', 'c']);
    t += DOWN_AFTER_MS;
    store.t += DOWN_AFTER_MS;
    await a.beat();
    expect(await a.m.expected('c silent')).toEqual({ live: ['a'], down: [{ node: 'c', last_seen_ms: DOWN_AFTER_MS }] });
    expect(await a.m.remove('c')).toBe('removed');
    expect(await a.m.expected('c removed')).toEqual({ live: ['a'], down: [] });
  });

  it('a node that never joined leaves nothing behind on stop', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    await a.m.stop();
    expect(store.entries.size).toBe(0);
  });

  it('the answering node reads its own line live; the others as of their heartbeat, lag against the seq then', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    const b = node(store, 'b');
    store.seq = 4;
    b.content.applied_seq = 3;
    await Promise.all([a.beat(), b.beat()]);
    store.seq = 9;
    store.t += 700;
    a.content.applied_seq = 9;
    const [self, other] = await a.m.list();
    expect(self).toMatchObject({ id: 'a', self: true, applied_seq: 9, lag: 0, cluster_seq: 9, heartbeat_age_ms: 700 });
    expect(other).toMatchObject({ id: 'b', applied_seq: 3, lag: 1, cluster_seq: 4, heartbeat_age_ms: 700, last_seen: new Date(store.t - 700).toISOString() });
    // Once DOWN, its lag is against the seq now: it cannot have applied anything it did not report.
    store.t += DOWN_AFTER_MS;
    expect((await a.m.list())[1]).toMatchObject({ status: 'DOWN', lag: 6, cluster_seq: 9 });
  });
});

describe('HeartbeatCodec and the in-memory store agree on the stored form', () => {
  it('reads back what a member wrote', async () => {
    const store = new MemoryStore();
    const a = node(store, 'a');
    await a.beat();
    expect(new HeartbeatCodec(SECRET).decode('a', store.entries.get('a'))).toMatchObject({ ok: true, stampMs: store.t });
  });
});
