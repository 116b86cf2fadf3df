import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, testkit } from './deps.mjs';
import { json } from './http.mjs';
import { waitUntil } from './wait.mjs';

/**
 * Nodes under test: LOG_LEVEL=warn and the given environment; with ctx.profileDir each one also
 * writes a V8 CPU profile there when it exits (SIGTERM -> clean exit -> profile written).
 */
export function benchEnv(ctx, bench, env = {}) {
  const out = { LOG_LEVEL: 'warn', ...env, ...ctx.nodeEnv };
  if (env.NODE_OPTIONS && ctx.nodeEnv?.NODE_OPTIONS) out.NODE_OPTIONS = `${env.NODE_OPTIONS} ${ctx.nodeEnv.NODE_OPTIONS}`;
  if (ctx.profileDir) {
    const dir = join(ctx.profileDir, bench);
    mkdirSync(dir, { recursive: true });
    // Node 20 refuses --cpu-prof in NODE_OPTIONS; a preloaded profiler does the same.
    out.NODE_OPTIONS = [env.NODE_OPTIONS, `--require=${join(repoRoot, 'scripts', 'bench', 'lib', 'cpu-profiler.cjs')}`].filter(Boolean).join(' ');
    out.BENCH_CPU_PROFILE_DIR = dir;
  }
  return out;
}

export function clusterIdentity(name) {
  return { cluster: `bench-${name}-${randomBytes(3).toString('hex')}`, secret: randomBytes(24).toString('base64url'), token: randomBytes(18).toString('base64url') };
}

export async function startBenchNode(ctx, bench, identity, env, opts = {}) {
  return testkit.startNode({
    redisUrl: ctx.redis.url,
    ...identity,
    env: benchEnv(ctx, bench, env),
    healthTimeoutMs: opts.healthTimeoutMs ?? 60_000,
    ...(opts.id ? { id: opts.id } : {}),
  });
}

/** `size` nodes of one cluster, started a few at a time (a 2-core machine starting 16 at once would
 *  blow the health deadline), then waited for until every node sees every other one UP. */
export async function startBenchCluster(ctx, bench, size, env, onStarted) {
  const identity = clusterIdentity(bench);
  const nodes = [];
  const stopAll = () => Promise.allSettled(nodes.map((n) => n.stop()));
  try {
    for (let i = 0; i < size; i += 4) {
      const batch = [];
      for (let j = i; j < Math.min(size, i + 4); j++) batch.push(startBenchNode(ctx, bench, identity, env, { id: `n${String(j + 1).padStart(2, '0')}` }));
      const started = await Promise.allSettled(batch);
      for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      onStarted?.(nodes.length);
    }
    await waitUntil(
      async () => {
        const r = await json(`${nodes[0].url}/v1/cluster/nodes`, { headers: { authorization: `Bearer ${identity.token}` } });
        return Array.isArray(r.json) && r.json.filter((n) => n.status === 'UP').length === size;
      },
      { timeoutMs: 30_000, what: `${size} nodes UP in the membership` },
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { ...identity, nodes, stop: async () => void (await stopAll()) };
}

export function admin(identity) {
  return { authorization: `Bearer ${identity.token}` };
}

/**
 * With --profile: restart the nodes' CPU sampling now, so their profiles cover only what follows,
 * and wait until every one has (cpu-profiler.cjs counts its restarts): stopping a profile builds
 * all of it, and 16 nodes doing that at once on two cores stalled the first measured flush past
 * Redis's command timeout.
 */
export async function profileFromHere(ctx, nodes) {
  if (!ctx.profileDir) return;
  const pids = nodes.map((n) => n.pid).filter(Boolean);
  const restarts = (pid) => {
    try {
      return Number(readFileSync(join(ctx.profileDir, `${pid}.restarted`), 'utf8')) || 0;
    } catch {
      return 0;
    }
  };
  const before = new Map(pids.map((pid) => [pid, restarts(pid)]));
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  await waitUntil(() => pids.every((pid) => restarts(pid) > before.get(pid)), { timeoutMs: 60_000, intervalMs: 50, what: 'the nodes restarting their CPU profiles' });
}
