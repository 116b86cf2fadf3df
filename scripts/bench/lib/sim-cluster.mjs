// Many simulated nodes for the simulation benchmark (docs/architecture.md, "Scaling limits"): the
// real Replicator of packages/node/dist, each on its own endpoint of @authcache/testkit's in-memory
// transport, under a SimClock. The network model: every node has a one-way latency to the store,
// fixed for the node; a command takes effect and answers one round trip after it was sent (one
// one-way hop more than Redis needs: the figures err on the slow side); each update delivery takes
// the node's one-way latency plus jitter and is lost with probability `loss`; an ack reaches its
// origin after the origin's one-way latency plus jitter. Membership is modelled, not run: a node
// cut off stays "live" (waited for) until its last heartbeat is 3 heartbeats + 500 ms old, as
// membership/liveness.ts judges.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot, testkit } from './deps.mjs';

const fromRoot = createRequire(join(repoRoot, 'package.json'));
const { Replicator } = fromRoot(join(repoRoot, 'packages', 'node', 'dist', 'index.js'));
export const protocol = fromRoot(join(repoRoot, 'packages', 'protocol', 'dist', 'index.js'));
export const SECRET = 'simulated cluster secret';

/** Calls on the store, by kind, and the ack bytes sent: what Redis would serve. */
export function newCounters() {
  return { position: 0, publish: 0, readLog: 0, logEntriesRead: 0, sendAck: 0, ackBytes: 0, deliveries: 0 };
}

class CountingTransport extends testkit.MemoryTransport {
  constructor(store, id, peers, counters) {
    super(store, id, peers);
    this.counters = counters;
  }
  position() {
    this.counters.position++;
    return super.position();
  }
  publish(frame, ops) {
    this.counters.publish++;
    return super.publish(frame, ops);
  }
  async readLog(from, to) {
    this.counters.readLog++;
    const entries = await super.readLog(from, to);
    this.counters.logEntriesRead += entries.length;
    return entries;
  }
  sendAck(origin, frame) {
    this.counters.sendAck++;
    this.counters.ackBytes += frame.length;
    return super.sendAck(origin, frame);
  }
  deliver(frame) {
    this.counters.deliveries++;
    return super.deliver(frame);
  }
}

const nop = () => undefined;
const silent = { debug: nop, info: nop, warn: nop, error: nop, trace: nop, fatal: nop };

/** The metrics the replicator writes, as plain sums over every node (resets and gap flushes are findings). */
function newMetrics(sums) {
  const counter = (name) => ({ inc: (n = 1) => (sums[name] = (sums[name] ?? 0) + n), labels: () => counter(name) });
  const gauge = { set: nop, labels: () => gauge };
  return {
    busRejected: counter('rejected'),
    updatesApplied: counter('applied'),
    catchUps: counter('catch_ups'),
    gapFlushes: counter('gap_flushes'),
    resets: counter('resets'),
    appliedSeq: gauge,
    lag: gauge,
    syncAge: gauge,
  };
}

/**
 * Builds and starts `nodes` replicators under `clock` (installed). `net`: `{ oneWayMs: [min, max],
 * jitterMs, loss }`; `random`: a seeded generator, so a run can be repeated.
 */
export async function startSimCluster({ clock, nodes, heartbeatMs, ackTimeoutMs, logMaxLen, net, random }) {
  const store = new testkit.MemoryStore(logMaxLen, () => clock.now);
  const peers = new Map();
  const counters = newCounters();
  const sums = {};
  const codec = protocol.createCodec(SECRET);
  const downAfterMs = 3 * heartbeatMs + 500;
  const replicas = [];
  /** the seq each update was assigned -> when the last node applied it */
  const appliedBy = new Map();
  const allAppliedAt = new Map();
  const members = async (origin) => {
    // The membership read travels with the publish (one round trip of the origin).
    await new Promise((resolve) => setTimeout(resolve, origin.rttMs));
    const live = [];
    const down = [];
    for (const r of replicas) {
      if (r.cutAt === null || clock.now - r.cutAt < downAfterMs) live.push(r.id);
      else down.push({ node: r.id, last_seen_ms: Math.round(clock.now - r.cutAt) });
    }
    return { live, down };
  };
  for (let i = 0; i < nodes; i++) {
    const id = `n${String(i).padStart(5, '0')}`;
    const oneWayMs = net.oneWayMs[0] + random() * (net.oneWayMs[1] - net.oneWayMs[0]);
    const transport = new CountingTransport(store, id, peers, counters);
    const r = { id, transport, oneWayMs, rttMs: 2 * oneWayMs, cutAt: null, replicator: undefined };
    transport.latencyMs = r.rttMs;
    transport.chaos = {
      random,
      drop: net.loss,
      delayMs: () => oneWayMs + random() * net.jitterMs,
      ackDelayMs: () => oneWayMs + random() * net.jitterMs,
    };
    r.replicator = new Replicator({
      transport,
      codec,
      nodeId: id,
      log: silent,
      metrics: newMetrics(sums),
      ackTimeoutMs,
      heartbeatMs,
      apply: (u) => {
        const n = (appliedBy.get(u.seq) ?? 0) + 1;
        appliedBy.set(u.seq, n);
        if (n === nodes) allAppliedAt.set(u.seq, clock.now);
      },
      resync: async () => undefined,
      members: () => members(r),
      now: () => clock.now,
    });
    replicas.push(r);
  }
  for (const r of replicas) await r.replicator.subscribe();
  // Real nodes start at different moments: heartbeats (anti-entropy reads) spread over one interval.
  let started = 0;
  for (const r of replicas) {
    clock.setTimeout(() => void r.replicator.position().then((pos) => (r.replicator.start(pos), started++)), random() * heartbeatMs);
  }
  if (!(await clock.run({ deadline: clock.now + heartbeatMs + 1000, until: () => started === nodes }))) {
    throw new Error(`only ${started} of ${nodes} simulated nodes started`);
  }
  return {
    store,
    replicas,
    counters,
    sums,
    allAppliedAt,
    cut(r) {
      r.cutAt = clock.now;
      r.transport.cut();
    },
    heal(r) {
      r.cutAt = null;
      r.transport.heal();
    },
    /** Every node applied the newest seq the store assigned. */
    inSync: () => replicas.every((r) => r.replicator.appliedSeq === store.seq),
    async stop() {
      for (const r of replicas) await r.replicator.stop();
    },
  };
}

/**
 * Publishes one update from `origin` and runs the clock until its call returns (bounded by the ack
 * timeout and a margin). Returns the simulated ms it took and whether every expected node acked.
 */
export async function publishAndWait(clock, cluster, origin, change, ackTimeoutMs) {
  const t0 = clock.now;
  let done;
  origin.replicator.publish(change).then(
    (p) => (done = { p, at: clock.now }),
    (err) => (done = { err, at: clock.now }),
  );
  await clock.run({ deadline: t0 + ackTimeoutMs + 1000, until: () => done !== undefined });
  if (!done) throw new Error(`a publish did not return within ${ackTimeoutMs + 1000} simulated ms`);
  if (done.err) throw done.err;
  const { nodes } = done.p;
  return { ms: done.at - t0, seq: done.p.seq, full: nodes.failed === 0 && nodes.successful === nodes.total, nodes };
}
