// The cluster-wide flush round trip and its baselines, shared by flush-roundtrip and many-nodes
// (docs/architecture.md, "Propagation"): sequential DELETE /v1/cache calls to one node, each checked
// to report every node applied; sequential Redis PINGs; and one-way pub/sub delivery to N subscriber
// connections (what a BentoCache-style bus costs: no seq, no log, no acks).
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Redis } from './deps.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaselineServer } from './baseline-process.mjs';
import { rawClient } from './raw-http.mjs';
import { admin } from './nodes.mjs';
import { latencyHistogram, recordMs } from './stats.mjs';

/**
 * Sequential flushes of the whole cluster through its first node, on one keep-alive connection of
 * the raw client (raw-http.mjs). Resolves { once, answer, reconnect, close }: `once()` resolves
 * { ms, full } (`full`: the answer reported all `size` nodes applied; a status other than 200
 * throws), `answer()` the last body, `reconnect()` a fresh connection (after the flusher stood idle
 * longer than a keep-alive should be trusted to last).
 */
export async function clusterFlusher(cluster, size) {
  let client;
  let send;
  const connect = async () => {
    client = await rawClient(cluster.nodes[0].url);
    send = client.prepare('DELETE', '/v1/cache', admin(cluster));
  };
  await connect();
  let answer = '';
  return {
    async once() {
      const r = await send();
      if (r.status !== 200) throw new Error(`DELETE /v1/cache: HTTP ${r.status} ${r.body.slice(0, 300)}`);
      answer = r.body;
      const nodes = JSON.parse(r.body).nodes;
      return { ms: r.ms, full: Boolean(nodes && nodes.total === size && nodes.failed === 0 && nodes.successful === size) };
    },
    answer: () => answer,
    async reconnect() {
      client.close();
      await connect();
    },
    close: () => client.close(),
  };
}

/**
 * Warm-up until steady, then `calls` measured flushes (clusterFlusher). `onMeasured()` runs between
 * the two (e.g. to restart the profilers). Resolves { histogram, partial, warmup, answer }:
 * `partial` counts the measured calls that did not report all `size` nodes applied; `warmup` is
 * what warmUntilSteady saw; `answer` is the last body.
 */
export async function flushLoop({ cluster, size, calls, steady = {}, onMeasured, onProgress }) {
  const flusher = await clusterFlusher(cluster, size);
  try {
    const warmup = await warmUntilSteady(async () => (await flusher.once()).ms, { ...steady, onProgress: (i) => onProgress?.(i, 'warm-up') });
    await onMeasured?.();
    const [{ histogram, partial }] = await measureInBlocks([{ once: flusher.once }], calls, { onProgress: (i) => onProgress?.(i, 'measured') });
    return { histogram, partial, warmup, answer: flusher.answer() };
  } finally {
    flusher.close();
  }
}

/** Calls per block of measureInBlocks: short enough that the sides take turns many times, long enough that switching is rare. */
export const BLOCK_CALLS = 100;

/**
 * `calls` measured calls of each side, in blocks of `block` taking turns (A, B, A, B, ...), so that
 * two exchanges compared with each other meet the same spells of a shared machine. Measured one
 * after the other, minutes apart, the ratio of the 3-node flush to the bare exchange moved with the
 * machine; in turns, three runs within 40 minutes gave 1.48-1.54 while the flush itself moved
 * 0.60-0.83 ms (docs/architecture.md, "Scaling limits", Measured in turns). A side is
 * { once, before?, after? }: `once()` resolves { ms, full? } (full === false counts as partial),
 * `before()` and `after()` run around each of its blocks, outside the timing (CPU and command
 * readings). Resolves one { histogram, partial } per side.
 */
export async function measureInBlocks(sides, calls, { block = BLOCK_CALLS, onProgress } = {}) {
  const out = sides.map(() => ({ histogram: latencyHistogram(), partial: 0 }));
  for (let done = 0; done < calls; done += block) {
    const n = Math.min(block, calls - done);
    for (const [i, side] of sides.entries()) {
      await side.before?.();
      for (let j = 0; j < n; j++) {
        const r = await side.once();
        if (r.full === false) out[i].partial++;
        recordMs(out[i].histogram, r.ms);
      }
      await side.after?.();
    }
    onProgress?.(done + n);
  }
  return out;
}

/**
 * Flushes before a warm-up may end: V8 is still optimizing a node's flush path long after the
 * latency looks steady. Seen at 3 nodes (2026-12-07, an Intel host; `--trace-opt` and the
 * background threads' CPU, cpu-time.mjs): a warm-up that stopped at 2,400 flushes, its latency no
 * longer improving by 5 % over 1,000, left TurboFan compiling through the measured flushes (the
 * publishing node's compiler and GC threads 60-100 µs of CPU per flush, on the same two cores);
 * after 8,000 flushes, 3 compiles in the next 2,000 (background 30 µs per flush, mostly GC) and
 * the publishing node's CPU per flush down from ~700 to ~520 µs.
 */
export const WARM_CALLS = 10_000;

/**
 * Calls `once` (which answers its latency in ms) until the nodes' code is warm. V8 compiles hot
 * functions with TurboFan on background threads, which on 2 cores compete with the nodes
 * themselves; a cluster of N processes takes thousands of flushes to settle, slowly (seen at 3
 * nodes: p50 2.6 ms over the first 1,000 flushes, 1.2 ms from the 3,000th on; a criterion of
 * 10 % over 500 calls stopped at ~1,100 with p50 still 2 ms), so a fixed 20
 * warm-up calls measured the warm-up. Windows of `window` calls until the median has not improved
 * by more than `tolerance` over the last `lookback` windows, after at least `minCalls` (WARM_CALLS);
 * never more than `maxCalls` calls or `maxMs`. Resolves { calls, ms, settled, window_p50_ms }: the
 * first window is the cold figure.
 */
export async function warmUntilSteady(once, { window = 100, lookback = 10, minCalls = WARM_CALLS, maxCalls = 2 * WARM_CALLS, maxMs = 60_000, tolerance = 0.05, onProgress } = {}) {
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

/**
 * `calls` sequential DELETEs (after `warmup`) on the same raw client against a bare node:http server
 * that answers `answer` (bare-answer-server.mjs): the HTTP part of an admin call, before any work.
 */
export async function bareHttpLoop(answer, calls, warmup) {
  const server = await startBaselineServer(join(dirname(fileURLToPath(import.meta.url)), 'bare-answer-server.mjs'), { BARE_ANSWER: answer }, 'the bare HTTP server');
  const client = await rawClient(server.url);
  try {
    const send = client.prepare('DELETE', '/v1/cache');
    const histogram = latencyHistogram();
    for (let i = 0; i < warmup + calls; i++) {
      const r = await send();
      if (r.status !== 200) throw new Error(`bare HTTP server: HTTP ${r.status}`);
      if (i >= warmup) recordMs(histogram, r.ms);
    }
    return histogram;
  } finally {
    client.close();
    await server.stop();
  }
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
