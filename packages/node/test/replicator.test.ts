/**
 * The replicator on an in-memory transport that drops, duplicates, delays and reorders frames:
 * seq order, gaps, replays, acks, anti-entropy, and the staleness rule (docs/architecture.md,
 * "Propagation").
 */
import { createCodec, withSeq } from '@authcache/protocol';
import { TransportError } from '../src/bus/transport';
import { seededRandom } from '@authcache/testkit';
import { NotDurableError } from '../src/bus/durability';
import { advance, flushUser, SECRET, startCluster, stopCluster, value, type TestCluster } from './support/replicas';

let c: TestCluster | undefined;

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
});

afterEach(async () => {
  if (c) await stopCluster(c);
  c = undefined;
  jest.useRealTimers();
});

const names = (r: { applied: Array<{ body: unknown }> }) => r.applied.map((u) => (u.body as { usernames: string[] }).usernames[0]);

describe('order and delivery faults', () => {
  it('applies in seq order when frames are delayed and overtake each other', async () => {
    c = await startCluster();
    const [a, b] = c.replicas;
    b!.transport.chaos = { maxDelayMs: 80, random: Math.random };
    const calls = Array.from({ length: 20 }, (_, i) => a!.replicator.publish(flushUser(`u${i}`)));
    await advance(1000);
    await Promise.all(calls);
    expect(names(b!)).toEqual(Array.from({ length: 20 }, (_, i) => `u${i}`));
    expect(b!.replicator.appliedSeq).toBe(20);
    expect(b!.resyncs).toEqual([]);
  });

  it('ignores duplicates', async () => {
    c = await startCluster();
    const [a, b] = c.replicas;
    b!.transport.chaos = { duplicate: 1 };
    const calls = [1, 2, 3].map((i) => a!.replicator.publish(flushUser(`d${i}`)));
    await advance(500);
    await Promise.all(calls);
    expect(names(b!)).toEqual(['d1', 'd2', 'd3']);
  });

  it('fills a gap from the log', async () => {
    c = await startCluster();
    const [a, b] = c.replicas;
    b!.transport.chaos = { drop: 1 };
    const first = a!.replicator.publish(flushUser('lost'));
    await advance(20);
    b!.transport.chaos = {};
    const second = a!.replicator.publish(flushUser('next'));
    await advance(500);
    await Promise.all([first, second]);
    expect(names(b!)).toEqual(['lost', 'next']);
    expect(await value(b!.metrics.catchUps)).toBeGreaterThanOrEqual(1);
    expect(await value(b!.metrics.gapFlushes)).toBe(0);
  });

  it('catches up on the heartbeat when nothing else arrives', async () => {
    c = await startCluster();
    const [a, b] = c.replicas;
    b!.transport.chaos = { drop: 1 };
    const p = a!.replicator.publish(flushUser('silent'));
    await advance(300);
    await p;
    expect(names(b!)).toEqual(['silent']);
  });

  it('flushes once when the log no longer holds what was missed', async () => {
    c = await startCluster({ logMaxLen: 2 });
    const [a, b] = c.replicas;
    b!.transport.cut();
    const calls = [1, 2, 3, 4, 5].map((i) => a!.replicator.publish(flushUser(`p${i}`)));
    await advance(400);
    await Promise.all(calls);
    b!.transport.heal();
    await advance(300);
    expect(b!.resyncs).toEqual(['gap']);
    expect(await value(b!.metrics.gapFlushes)).toBe(1);
    expect(b!.replicator.appliedSeq).toBe(5);
    expect(b!.replicator.syncAgeMs()).toBeLessThan(200);
  });

  it('filters the replay of an old update under a new seq', async () => {
    c = await startCluster();
    const [a, b] = c.replicas;
    await Promise.all([a!.replicator.publish(flushUser('once')), advance(400)]);
    // Someone with write access to the store re-publishes the signed frame under the next seq.
    const replayed = withSeq(c.store.log.get(1)!, 2);
    c.store.seq = 2;
    c.store.log.set(2, replayed);
    b!.transport.inject(replayed);
    await advance(50);
    expect(names(b!)).toEqual(['once']);
    expect(b!.replicator.appliedSeq).toBe(2);
    expect(await value(b!.metrics.busRejected, { reason: 'replayed' })).toBe(1);
  });

  it('rejects a forged frame whose seq is above the cluster counter as bad_seq', async () => {
    c = await startCluster();
    const [, b] = c.replicas;
    const forged = withSeq(createCodec(SECRET).encode({ id: 'x', origin: 'evil', ts: 1, ...flushUser('victim') }), 7);
    b!.transport.inject(forged);
    await advance(50);
    expect(b!.applied).toEqual([]);
    expect(b!.replicator.appliedSeq).toBe(0);
    expect(await value(b!.metrics.busRejected, { reason: 'bad_seq' })).toBe(1);
  });
});

describe('frames that fail verification', () => {
  it('skips and counts an entry of another secret during catch-up, without flushing', async () => {
    c = await startCluster({ ids: ['a', 'b', 'wrong'], codecFor: (id) => createCodec(id === 'wrong' ? 'another secret' : SECRET) });
    const [a, b, wrong] = c.replicas;
    const bad = wrong!.replicator.publish({ kind: 'flush_all', body: {} });
    await advance(20);
    const good = a!.replicator.publish(flushUser('after'));
    await advance(500);
    await Promise.all([bad, good]);
    for (const r of [a!, b!]) {
      expect(names(r)).toEqual(['after']);
      expect(r.resyncs).toEqual([]);
      expect(r.replicator.appliedSeq).toBe(2);
      expect(await value(r.metrics.gapFlushes)).toBe(0);
      expect(await value(r.metrics.busRejected, { reason: 'signature' })).toBeGreaterThanOrEqual(1);
    }
  });

  it('skips it on the heartbeat too, and stays in sync', async () => {
    c = await startCluster({ ids: ['a', 'wrong'], codecFor: (id) => createCodec(id === 'wrong' ? 'another secret' : SECRET) });
    const [a, wrong] = c.replicas;
    const bad = wrong!.replicator.publish({ kind: 'flush_all', body: {} });
    await advance(500);
    await bad;
    expect(a!.applied).toEqual([]);
    expect(a!.resyncs).toEqual([]);
    expect(a!.replicator.appliedSeq).toBe(1);
    expect(a!.replicator.syncAgeMs()).toBeLessThan(200);
  });

  it('drops garbage on the update channel and counts it', async () => {
    c = await startCluster();
    const [, b] = c.replicas;
    b!.transport.inject(Buffer.from('garbage'));
    b!.transport.inject(createCodec(SECRET).encodeAck({ update_id: 'u', node: 'a', ok: true }));
    await advance(50);
    expect(await value(b!.metrics.busRejected, { reason: 'too_short' })).toBe(1);
    expect(await value(b!.metrics.busRejected, { reason: 'invalid' })).toBe(1);
    expect(b!.resyncs).toEqual([]);
  });
});

describe('acks', () => {
  it('counts an ack per member', async () => {
    c = await startCluster();
    const [a] = c.replicas;
    const [p] = await Promise.all([a!.replicator.publish(flushUser('x')), advance(100)]);
    expect(p).toEqual({
      seq: 1,
      nodes: { total: 3, successful: 3, failed: 0 },
      failures: [],
      members: [
        { node: 'a', result: 'applied' },
        { node: 'b', result: 'applied' },
        { node: 'c', result: 'applied' },
      ],
    });
  });

  it('reports a live member that did not answer as timeout', async () => {
    c = await startCluster({ ackTimeoutMs: 200 });
    const [a, , cc] = c.replicas;
    cc!.transport.cut();
    const [p] = await Promise.all([a!.replicator.publish(flushUser('x')), advance(300)]);
    expect(p.nodes).toEqual({ total: 3, successful: 2, failed: 1 });
    expect(p.failures).toEqual([{ node: 'c', reason: 'timeout' }]);
  });

  it('sends an ack that could not be sent again once the transport reconnects, while the origin still waits', async () => {
    c = await startCluster({ ids: ['a', 'b'], ackTimeoutMs: 1000 });
    const [a, b] = c.replicas;
    // b receives the update, but its command connection is down when it acks ("Stream isn't writeable").
    const send = b!.transport.sendAck.bind(b!.transport);
    let down = true;
    b!.transport.sendAck = async (origin, frame) => {
      if (down) throw new TransportError('not_applied', "Stream isn't writeable and enableOfflineQueue options is false");
      return send(origin, frame);
    };
    const p = a!.replicator.publish(flushUser('x'));
    await advance(100);
    expect(names(b!)).toEqual(['x']);
    down = false;
    b!.transport.heal();
    await advance(100);
    expect((await p).nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  });

  it('does not send again an ack its origin no longer waits for, nor one that may have been sent', async () => {
    c = await startCluster({ ids: ['a', 'b'], ackTimeoutMs: 200 });
    const [a, b] = c.replicas;
    const sent: string[] = [];
    let failure: 'not_applied' | 'unknown' = 'not_applied';
    b!.transport.sendAck = async (origin) => {
      sent.push(`${origin} ${failure}`);
      throw new TransportError(failure, 'down');
    };
    const first = a!.replicator.publish(flushUser('late'));
    await advance(300);
    expect((await first).failures).toEqual([{ node: 'b', reason: 'timeout' }]);
    // Past the ack timeout: the kept ack is dropped, not sent, on reconnect.
    b!.transport.heal();
    await advance(50);
    expect(sent).toEqual(['a not_applied']);
    // A failure that may have reached Redis ('unknown') is not kept at all.
    failure = 'unknown';
    const second = a!.replicator.publish(flushUser('maybe'));
    await advance(50);
    b!.transport.heal();
    await advance(300);
    await second;
    expect(sent).toEqual(['a not_applied', 'a unknown']);
  });

  it('reports members that stopped heartbeating without leaving as down, in total and failed', async () => {
    c = await startCluster({ ids: ['a', 'b'], members: () => ({ live: ['a', 'b'], down: [{ node: 'z', last_seen_ms: 4200 }] }) });
    const [a] = c.replicas;
    const [p] = await Promise.all([a!.replicator.publish(flushUser('x')), advance(100)]);
    expect(p.nodes).toEqual({ total: 3, successful: 2, failed: 1 });
    expect(p.failures).toEqual([{ node: 'z', reason: 'down', last_seen_ms: 4200 }]);
    expect(p.members).toContainEqual({ node: 'z', result: 'failed' });
  });

  it('rejects and counts a forged ack, which answers for nobody', async () => {
    c = await startCluster({ ids: ['a', 'b'], ackTimeoutMs: 200 });
    const [a, b] = c.replicas;
    b!.transport.cut();
    const call = a!.replicator.publish(flushUser('x'));
    await advance(10);
    const decoded = createCodec(SECRET).decode(c.store.log.get(1)!);
    const id = decoded.ok ? decoded.update.id : 'missing';
    a!.transport.injectAck(createCodec('not the secret').encodeAck({ update_id: id, node: 'b', ok: true }));
    // An update frame is never taken for an ack, however well signed.
    a!.transport.injectAck(withSeq(createCodec(SECRET).encode({ id: 'y', origin: 'b', ts: 1, ...flushUser('y') }), 0));
    await advance(300);
    const p = await call;
    expect(p.failures).toEqual([{ node: 'b', reason: 'timeout' }]);
    expect(await value(a!.metrics.busRejected, { reason: 'signature' })).toBe(1);
    expect(await value(a!.metrics.busRejected, { reason: 'invalid' })).toBe(1);
  });

  it('says outcome unknown when the reply is lost, and the update is applied everywhere all the same', async () => {
    c = await startCluster();
    const [a, b, cc] = c.replicas;
    a!.transport.loseNextReply = true;
    const call = a!.replicator.publish(flushUser('maybe'));
    const failure = call.catch((e: unknown) => e);
    await advance(200);
    const e = await failure;
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).failure).toBe('unknown');
    for (const r of [a!, b!, cc!]) expect(names(r)).toEqual(['maybe']);
  });
});

describe('not confirmed by a replica', () => {
  it('still collects every member\'s ack, and throws a NotDurableError carrying them and the seq', async () => {
    c = await startCluster();
    const [a, b, cc] = c.replicas;
    a!.transport.notDurableNext = true;
    const failure = a!.replicator.publish(flushUser('undurable')).catch((e: unknown) => e);
    await advance(200);
    const e = (await failure) as NotDurableError;
    expect(e).toBeInstanceOf(NotDurableError);
    expect([e.failure, e.seq, e.replicated, e.required]).toEqual(['unknown', 1, 0, 1]);
    expect(e.propagation?.seq).toBe(1);
    expect(e.propagation?.nodes).toEqual({ total: 3, successful: 3, failed: 0 });
    for (const r of [a!, b!, cc!]) expect(names(r)).toEqual(['undurable']);
  });
});

describe('anti-entropy', () => {
  it('does not take an update applied during its position read for data loss (the read is in order)', async () => {
    c = await startCluster({ ids: ['a', 'b'] });
    const [a, b] = c.replicas;
    b!.transport.latencyMs = 30;
    let raced = false;
    b!.transport.onPositionRead = () => {
      if (raced) return;
      raced = true;
      // While b's heartbeat read is in flight, an update is published and delivered at once.
      void a!.replicator.publish(flushUser('racer'));
    };
    await advance(600);
    expect(raced).toBe(true);
    expect(names(b!)).toEqual(['racer']);
    expect(b!.resyncs).toEqual([]);
    expect(await value(b!.metrics.resets)).toBe(0);
  });

  it('resets when the epoch changed', async () => {
    c = await startCluster({ ids: ['a', 'b'] });
    const [a, b] = c.replicas;
    await Promise.all([a!.replicator.publish(flushUser('before')), advance(200)]);
    c.store.wipe();
    await advance(300);
    for (const r of [a!, b!]) {
      expect(r.resyncs).toEqual(['reset']);
      expect(r.replicator.appliedSeq).toBe(0);
    }
    const [p] = await Promise.all([a!.replicator.publish(flushUser('after')), advance(200)]);
    expect(p.seq).toBe(1);
    expect(names(b!)).toEqual(['before', 'after']);
  });

  it('resets at once when a gap shows a new epoch, without waiting for the heartbeat', async () => {
    c = await startCluster({ ids: ['a', 'b'], heartbeatMs: 60_000 });
    const [a, b] = c.replicas;
    await Promise.all([a!.replicator.publish(flushUser('old1')), a!.replicator.publish(flushUser('old2')), advance(100)]);
    c.store.wipe();
    b!.transport.chaos = { drop: 1 };
    const lost = ['new1', 'new2', 'new3'].map((u) => a!.replicator.publish(flushUser(u)));
    await advance(20);
    b!.transport.chaos = {};
    const last = a!.replicator.publish(flushUser('new4'));
    await advance(400);
    await Promise.all([...lost, last]);
    expect(b!.resyncs).toEqual(['reset']);
    expect(b!.replicator.appliedSeq).toBe(4);
    expect(names(b!)).toEqual(['old1', 'old2']);
  });

  it('resets when the store lost its tail under the same epoch', async () => {
    c = await startCluster({ ids: ['a', 'b'] });
    const [a, b] = c.replicas;
    await Promise.all([a!.replicator.publish(flushUser('one')), a!.replicator.publish(flushUser('two')), advance(200)]);
    c.store.seq = 1;
    c.store.log.delete(2);
    await advance(300);
    expect(b!.resyncs).toEqual(['reset']);
    expect(b!.replicator.appliedSeq).toBe(1);
  });

  it('stops confirming its sync while cut off, and confirms again once healed', async () => {
    c = await startCluster({ ids: ['a', 'b'] });
    const [, b] = c.replicas;
    await advance(200);
    expect(b!.replicator.syncAgeMs()).toBeLessThan(200);
    b!.transport.cut();
    await advance(1000);
    expect(b!.replicator.syncAgeMs()).toBeGreaterThanOrEqual(900);
    b!.transport.heal();
    await advance(50);
    expect(b!.replicator.syncAgeMs()).toBeLessThan(100);
  });
});

describe('the staleness rule under random faults (seeded)', () => {
  const MAX_STALENESS_MS = 500;
  const STEP_MS = 10;

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])('seed %i: no node trusts its cache while it misses an update older than max staleness', async (seed) => {
    const rnd = seededRandom(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const garbage = createCodec('a misconfigured node');
    c = await startCluster({ ids: ['a', 'b', 'c', 'd'], heartbeatMs: 100, ackTimeoutMs: 200, logMaxLen: 6 });
    const cluster = c;
    for (const r of cluster.replicas) r.transport.chaos = { drop: 0.2, duplicate: 0.1, maxDelayMs: 60, random: rnd };
    const cut = new Set<string>();
    const calls: Array<Promise<unknown>> = [];
    const violations: string[] = [];

    const check = () => {
      const now = Date.now();
      for (const r of cluster.replicas) {
        if (r.replicator.syncAgeMs() > MAX_STALENESS_MS) continue;
        for (const [seq, at] of cluster.store.assignedAt) {
          if (now - at > MAX_STALENESS_MS && seq > r.replicator.appliedSeq) {
            violations.push(`${r.id} trusts its cache (sync age ${r.replicator.syncAgeMs()} ms) at applied ${r.replicator.appliedSeq} though seq ${seq} was assigned ${now - at} ms ago`);
          }
        }
      }
    };

    for (let step = 0; step < 400; step++) {
      const x = rnd();
      const r = pick(cluster.replicas);
      if (x < 0.12) {
        if (rnd() < 0.1) r.transport.loseNextReply = true;
        calls.push(r.replicator.publish(flushUser(`s${step}`)).catch((e: unknown) => e));
      } else if (x < 0.15 && !cut.has(r.id)) {
        r.transport.cut();
        cut.add(r.id);
      } else if (x < 0.21 && cut.has(r.id)) {
        r.transport.heal();
        cut.delete(r.id);
      } else if (x < 0.22) {
        // A node with another secret publishes: its entry takes a seq nobody can verify.
        cluster.store.publish(garbage.encode({ id: `g${step}`, origin: 'bad', ts: 1, kind: 'flush_all', body: {} }), []);
      } else if (x < 0.24) {
        r.transport.latencyMs = pick([0, 0, 5, 30, 120]);
      }
      await advance(STEP_MS, STEP_MS);
      check();
    }
    for (const id of cut) cluster.byId.get(id)!.transport.heal();
    for (const r of cluster.replicas) r.transport.chaos = {};
    await advance(1500);
    check();
    await Promise.all(calls);

    expect(violations.slice(0, 5)).toEqual([]);
    for (const r of cluster.replicas) {
      // Converged, trusting its cache again, each update applied at most once and in seq order.
      expect([r.id, r.replicator.appliedSeq]).toEqual([r.id, cluster.store.seq]);
      expect(r.replicator.syncAgeMs()).toBeLessThanOrEqual(MAX_STALENESS_MS);
      const seqs = r.applied.map((u) => u.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((p, q) => p - q));
    }
  });
});
