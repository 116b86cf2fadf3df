// The cluster-wide flush round trip and its baselines, shared by flush-roundtrip and many-nodes
// (docs/architecture.md, "Propagation"): sequential DELETE /v1/cache calls to one node, each checked
// to report every node applied; sequential Redis PINGs; and one-way pub/sub delivery to N subscriber
// connections (what a BentoCache-style bus costs: no seq, no log, no acks).
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Redis } from './deps.mjs';
import { json } from './http.mjs';
import { admin } from './nodes.mjs';
import { latencyHistogram, recordMs } from './stats.mjs';

/**
 * Warm-up until steady, then `calls` measured flushes of the whole cluster through its first node.
 * `onMeasured()` runs between the two (e.g. to restart the profilers). Resolves { histogram, partial,
 * warmup }: `partial` counts the measured calls that did not report all `size` nodes applied;
 * `warmup` is what warmUntilSteady saw. A status other than 200 throws.
 */
export async function flushLoop({ cluster, size, agent, calls, steady = {}, onMeasured, onProgress }) {
  const url = `${cluster.nodes[0].url}/v1/cache`;
  const headers = admin(cluster);
  const once = async () => {
    const r = await json(url, { method: 'DELETE', headers, agent });
    if (r.status !== 200) throw new Error(`DELETE /v1/cache: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    const nodes = r.json?.nodes;
    return { ms: r.ms, full: Boolean(nodes && nodes.total === size && nodes.failed === 0 && nodes.successful === size) };
  };
  const warmup = await warmUntilSteady(async () => (await once()).ms, { ...steady, onProgress: (i) => onProgress?.(i, 'warm-up') });
  await onMeasured?.();
  const histogram = latencyHistogram();
  let partial = 0;
  for (let i = 0; i < calls; i++) {
    const r = await once();
    if (!r.full) partial++;
    recordMs(histogram, r.ms);
    if (i % 10 === 0) onProgress?.(i, 'measured');
  }
  return { histogram, partial, warmup };
}

/**
 * Calls `once` (which answers its latency in ms) until the nodes' code is warm. V8 compiles hot
 * functions with TurboFan on background threads, which on 2 cores compete with the nodes
 * themselves; a cluster of N processes takes thousands of flushes to settle, slowly (seen at 3
 * nodes: p50 2.6 ms over the first 1,000 flushes, 1.2 ms from the 3,000th on; a criterion of
 * 10 % over 500 calls stopped at ~1,100 with p50 still 2 ms), so a fixed 20
 * warm-up calls measured the warm-up. Windows of `window` calls until the median has not improved
 * by more than `tolerance` over the last `lookback` windows, after at least `minCalls`; never more
 * than `maxCalls` calls or `maxMs`. Resolves { calls, ms, settled, window_p50_ms }: the first
 * window is the cold figure.
 */
export async function warmUntilSteady(once, { window = 100, lookback = 10, minCalls = 2000, maxCalls = 8000, maxMs = 60_000, tolerance = 0.05, onProgress } = {}) {
  const started = performance.now();
  const medians = [];
  let calls = 0;
  let settled = false;
  while (calls < maxCalls && performance.now() - started < maxMs) {
    const xs = [];
    for (let i = 0; i < window; i++, calls++) {
      xs.push(await once());
      if (calls % 50 === 0) onProgress?.(calls);
    }
    xs.sort((a, b) => a - b);
    medians.push(Math.round(xs[xs.length >> 1] * 1000) / 1000);
    const earlier = medians[medians.length - 1 - lookback];
    if (calls >= minCalls && earlier !== undefined && medians[medians.length - 1] >= (1 - tolerance) * earlier) {
      settled = true;
      break;
    }
  }
  return { calls, ms: Math.round(performance.now() - started), settled, window_p50_ms: medians };
}

/** `calls` sequential PINGs (after `warmup`) on `redis`: one round trip to Redis, the physical floor. */
export async function pingLoop(redis, calls, warmup) {
  const histogram = latencyHistogram();
  for (let i = 0; i < warmup + calls; i++) {
    const t = performance.now();
    await redis.ping();
    if (i >= warmup) recordMs(histogram, performance.now() - t);
  }
  return histogram;
}

/**
 * One-way delivery, BentoCache-style: `subscribers` connections SUBSCRIBEd to one channel, a
 * publisher PUBLISHes a small message (the size of a flush frame), and the time until every
 * subscriber received it is recorded; no acks, no log, no seq. The subscribers are connections of
 * this process, so their handling is serialised on one event loop, as it is not on N nodes.
 */
export async function pubsubLoop(redisUrl, subscribers, calls, warmup) {
  const channel = `bench-pubsub-${randomBytes(4).toString('hex')}`;
  const subs = Array.from({ length: subscribers }, () => new Redis(redisUrl, { lazyConnect: true }));
  const pub = new Redis(redisUrl, { lazyConnect: true });
  try {
    await Promise.all([pub.connect(), ...subs.map((s) => s.connect())]);
    await Promise.all(subs.map((s) => s.subscribe(channel)));
    let pending = 0;
    let delivered = () => {};
    for (const s of subs) s.on('messageBuffer', () => --pending === 0 && delivered());
    const payload = randomBytes(120);
    const histogram = latencyHistogram();
    for (let i = 0; i < warmup + calls; i++) {
      pending = subscribers;
      const all = new Promise((resolve) => (delivered = resolve));
      const t = performance.now();
      const receivers = await pub.publish(channel, payload);
      if (receivers !== subscribers) throw new Error(`PUBLISH reached ${receivers} of ${subscribers} subscribers`);
      await all;
      if (i >= warmup) recordMs(histogram, performance.now() - t);
    }
    return histogram;
  } finally {
    pub.disconnect();
    for (const s of subs) s.disconnect();
  }
}
