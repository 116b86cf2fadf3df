import { Redis } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { WARM_CALLS, flushLoop, pingLoop } from '../lib/flush.mjs';
import { profileFromHere, startBenchCluster } from '../lib/nodes.mjs';
import { summarize } from '../lib/stats.mjs';

const SIZES = [3, 16];
const PING_WARMUP = 200;
/** Warm-up until the flush latency is steady (lib/flush.mjs, warmUntilSteady); shorter than many-nodes', which measures the same steady state. */
const STEADY = { maxMs: 120_000 };
const QUICK_STEADY = { minCalls: 300, lookback: 2, maxCalls: 1000, maxMs: 8_000 };

export default {
  name: 'flush-roundtrip',
  title: `cluster-wide DELETE /v1/cache (publish, apply on every node, acks) at ${SIZES.join(' and ')} nodes, against a Redis PING`,
  async run(ctx) {
    const calls = ctx.quick ? 100 : 500;
    const figures = [];
    const details = { calls, sizes: {} };
    for (const size of SIZES) {
      ctx.progress.update(`starting ${size} nodes`);
      const cluster = await startBenchCluster(ctx, this.name, size, {}, (n) => ctx.progress.update(`started ${n}/${size} nodes`));
      const redis = new Redis(ctx.redis.url, { lazyConnect: true });
      try {
        await redis.connect();
        // The physical floor: one round trip to the same Redis, from the same process, while the cluster runs.
        ctx.progress.update(`${size} nodes: Redis PING`);
        const ping = await pingLoop(redis, calls, PING_WARMUP);
        const { histogram: flush, partial, warmup } = await flushLoop({
          cluster,
          size,
          calls,
          steady: ctx.quick ? QUICK_STEADY : STEADY,
          onMeasured: () => profileFromHere(ctx, cluster.nodes),
          onProgress: (i, phase) => ctx.progress.update(`${size} nodes: ${phase} flush ${i}`),
        });
        if (partial) throw new Error(`${partial} of ${calls} flushes did not reach all ${size} nodes`);
        const f = summarize(flush);
        const p = summarize(ping);
        ctx.progress.note(`${size} nodes: flush p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms (first 100 after start p50 ${warmup.window_p50_ms[0]} ms; warm after ${warmup.calls}); PING p50 ${p.p50_ms} ms, p99 ${p.p99_ms} ms`);
        details.sizes[size] = { flush: f, ping: p, warmup };
        const atThree = size === 3;
        figures.push(
          figure({
            id: `flush_${size}_p50`,
            name: `flush round trip p50, ${size} nodes`,
            value: f.p50_ms,
            unit: 'ms',
            baseline: { name: 'Redis PING', value: p.p50_ms, unit: 'ms' },
            target: atThree ? { on: 'value', op: '<=', value: 2, unit: 'ms', text: '≤ 2 ms' } : null,
          }),
          figure({
            id: `flush_${size}_p99`,
            name: `flush round trip p99, ${size} nodes`,
            value: f.p99_ms,
            unit: 'ms',
            baseline: { name: 'Redis PING', value: p.p99_ms, unit: 'ms' },
            target: atThree ? { on: 'value', op: '<=', value: 10, unit: 'ms', text: '≤ 10 ms' } : null,
          }),
        );
      } finally {
        redis.disconnect();
        ctx.progress.update(`stopping ${size} nodes`);
        await cluster.stop();
      }
    }
    const notes = [
      `${calls} sequential DELETE /v1/cache calls to the first node over one keep-alive connection, each checked to report every node applied, after a warm-up until the latency is steady (windows of 100 calls until the median has not improved by more than 5 % over the last 10 windows, after at least ${WARM_CALLS.toLocaleString('en-US')} calls, at most ${STEADY.maxMs / 1000} s; details.sizes.N.warmup has every window's median); baseline: ${calls} sequential PINGs (ioredis) from the bench to the same Redis while the cluster runs`,
    ];
    return { figures, notes, details };
  },
};
