/**
 * Replicators wired to a MemoryStore, for unit tests under jest's fake timers: each node records
 * what it applied and when it resynced, and has metrics of its own.
 */
import pino from 'pino';
import { createCodec, type Codec, type ConfigUpdate } from '@authcache/protocol';
import { Metrics } from '../../src/metrics';
import { Replicator } from '../../src/bus/replicator';
import type { ExpectedMembers } from '../../src/membership';
import { MemoryStore, MemoryTransport } from '@authcache/testkit';

export const SECRET = 'unit-test cluster secret';

export interface Replica {
  id: string;
  replicator: Replicator;
  transport: MemoryTransport;
  metrics: Metrics;
  applied: ConfigUpdate[];
  resyncs: string[];
}

export interface ClusterOptions {
  ids?: string[];
  heartbeatMs?: number;
  ackTimeoutMs?: number;
  logMaxLen?: number;
  /** who must ack; default: every replica, live */
  members?: () => ExpectedMembers;
  /** codec per node id (default: the cluster secret) */
  codecFor?: (id: string) => Codec;
}

export interface TestCluster {
  store: MemoryStore;
  replicas: Replica[];
  byId: Map<string, Replica>;
}

export const silent = pino({ level: 'silent' });

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const store = new MemoryStore(opts.logMaxLen ?? 1000);
  const peers = new Map<string, MemoryTransport>();
  const ids = opts.ids ?? ['a', 'b', 'c'];
  const replicas: Replica[] = [];
  const members = opts.members ?? (() => ({ live: [...ids], down: [] }));
  for (const id of ids) {
    const transport = new MemoryTransport(store, id, peers);
    const metrics = new Metrics();
    const r: Replica = { id, transport, metrics, applied: [], resyncs: [], replicator: undefined as unknown as Replicator };
    r.replicator = new Replicator({
      transport,
      codec: opts.codecFor?.(id) ?? createCodec(SECRET),
      nodeId: id,
      log: silent,
      metrics,
      ackTimeoutMs: opts.ackTimeoutMs ?? 300,
      heartbeatMs: opts.heartbeatMs ?? 100,
      apply: (u) => void r.applied.push(u),
      resync: async (reason) => void r.resyncs.push(reason),
      members: async () => members(),
      now: () => Date.now(),
    });
    replicas.push(r);
  }
  for (const r of replicas) await r.replicator.subscribe();
  for (const r of replicas) r.replicator.start(await r.replicator.position());
  return { store, replicas, byId: new Map(replicas.map((r) => [r.id, r])) };
}

export async function stopCluster(c: TestCluster): Promise<void> {
  for (const r of c.replicas) await r.replicator.stop();
}

/** Sum of a counter's (or gauge's) values whose labels include `labels`. */
export async function value(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

export const flushUser = (u: string) => ({ kind: 'flush_users' as const, body: { usernames: [u] } });

/** Runs fake time forward in small steps, so that every promise chain in between settles. */
export async function advance(ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) await jest.advanceTimersByTimeAsync(Math.min(step, ms - t));
}
