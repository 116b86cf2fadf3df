// Many nodes (issue 16): the cluster-wide flush round trip (publish, apply on every node, every node
// acked) at 3, 8, 16 and 32 real node processes, against a Redis PING from the same process and
// against one-way pub/sub delivery to as many subscriber connections (BentoCache-style); the
// Redis commands one update costs (INFO commandstats around the flushes, the background of the same
// length subtracted); and each node's RSS, with a bounded heap. docs/architecture.md, "Propagation".
import { Redis } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { startBareExchange } from '../lib/bare-floor.mjs';
import { cpuPerCall, cpuReading, sumReadings } from '../lib/cpu-time.mjs';
import { BLOCK_CALLS, WARM_CALLS, bareHttpLoop, clusterFlusher, measureInBlocks, pingLoop, pubsubLoop, warmUntilSteady } from '../lib/flush.mjs';
import { scrape } from '../lib/metrics.mjs';
import { profileFromHere, startBenchCluster } from '../lib/nodes.mjs';
import { round, summarize } from '../lib/stats.mjs';
import { pause } from '../lib/wait.mjs';

const SIZES = [3, 8, 16, 32];
const QUICK_SIZES = [3, 8];
const PING_WARMUP = 200;
/** The sizes at which the bare exchange (lib/bare-floor.mjs) is measured beside the cluster: the two with targets. */
const BARE_SIZES = [3, 32];
/** Warm-up until the flush latency is steady (lib/flush.mjs, warmUntilSteady): at 32 nodes its 10,000 flushes (WARM_CALLS) take ~50 s here. */
const STEADY = { maxMs: 180_000 };
const QUICK_STEADY = { minCalls: 300, lookback: 2, maxCalls: 1000, maxMs: 8_000 };
const MIB = 1024 * 1024;
/**
 * Bounded memory: 32 node processes on one machine, none may grow without limit. They stand for 32
 * machines, so their idle work should not compete with the flushes as it would not there: the
 * event-loop delay is sampled every 200 ms instead of 10 (AUTHCACHE_METRICS_EVENTLOOP_MS; at 10 ms,
 * 32 idle nodes wake 3,200 times a second, ~13 % of the two cores; A/B at 32 nodes: p50 9.1-9.6 ->
 * 8.1-8.3 ms).
 */
const NODE_ENV = { NODE_OPTIONS: '--max-old-space-size=96', AUTHCACHE_CACHE_WARMING: 'false', UV_THREADPOOL_SIZE: '2', AUTHCACHE_METRICS_EVENTLOOP_MS: '200' };
/** The bench's own commands, not the cluster's. */
const OURS = new Set(['info', 'ping', 'flushall', 'config|resetstat', 'config']);

export default {
  name: 'many-nodes',
  title: `flush round trip with every node acked, Redis commands per update and RSS at ${SIZES.join(', ')} nodes, against a Redis PING and one-way pub/sub delivery`,
  async run(ctx) {
    const sizes = ctx.quick ? QUICK_SIZES : SIZES;
    // 1,000, not a few hundred: the p50 should not hang on one noisy spell of the machine.
    const calls = ctx.quick ? 60 : 1000;
    const figures = [];
    const details = { calls, sizes: {} };
    for (const size of sizes) {
      ctx.progress.update(`starting ${size} nodes`);
      const cluster = await startBenchCluster(ctx, this.name, size, NODE_ENV, (n) => ctx.progress.update(`started ${n}/${size} nodes`));
      const redis = new Redis(ctx.redis.url, { lazyConnect: true });
      try {
        await redis.connect();
        ctx.progress.update(`${size} nodes: Redis PING, one-way pub/sub to ${size} subscribers`);
        const ping = await pingLoop(redis, calls, PING_WARMUP);
        const oneWay = await pubsubLoop(ctx.redis.url, size, calls, PING_WARMUP);

        // The flushes go to the first node: it publishes and collects the acks.
        const groups = { origin: [cluster.nodes[0].pid], members: cluster.nodes.slice(1).map((n) => n.pid) };
        const { warmup, answer, flush: measured, bare } = await measureFlushes(ctx, { cluster, size, redis, groups, calls });
        const { histogram: flush, partial, commands: during, cpu: ourCpu } = measured;
        // Background: heartbeats and anti-entropy of `size` nodes over as long as the cluster's blocks took.
        const busyMs = ourCpu.to.at;
        ctx.progress.update(`${size} nodes: a bare HTTP server answering the same JSON`);
        const bareHttp = await bareHttpLoop(answer, calls, PING_WARMUP);
        ctx.progress.update(`${size} nodes: measuring the background for ${Math.round(busyMs)} ms`);
        const idleFrom = await commandStats(redis);
        const idleCpu = [await cpuReading(groups, redis)];
        await pause(busyMs);
        idleCpu.push(await cpuReading(groups, redis));
        const idle = diff(await commandStats(redis), idleFrom);
        const cpu = cpuPerCall(ourCpu.from, ourCpu.to, calls, idleCpu);
        // The bare processes have no background of their own; Redis still serves the cluster's, so only its rate is subtracted.
        const bareCpu = bare && cpuPerCall(bare.cpu.from, bare.cpu.to, calls, idleCpu.map((r) => ({ ...r, groups: {} })));
        // A flush some node did not ack in time is a finding (reported), not a reason to lose the size.
        if (partial) ctx.progress.note(`${size} nodes: ${partial} of ${calls} flushes did not report all ${size} nodes applied`);

        const perUpdate = {};
        for (const [cmd, n] of Object.entries(during)) {
          const net = (n - (idle[cmd] ?? 0)) / calls;
          if (Math.abs(net) >= 0.05) perUpdate[cmd] = round(net, 2);
        }
        const commands = Object.values(perUpdate).reduce((a, b) => a + b, 0);
        const rss = await Promise.all(cluster.nodes.map((n) => scrape(n.url).then((m) => m.rss)));
        const f = summarize(flush);
        const p = summarize(ping);
        const o = summarize(oneWay);
        const h = summarize(bareHttp);
        const rssMean = rss.reduce((a, b) => a + b, 0) / rss.length / MIB;
        ctx.progress.note(
          `${size} nodes: flush p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms, first 100 after start p50 ${warmup.window_p50_ms[0]} ms, warm after ${warmup.calls}${warmup.settled ? '' : ' (not settled)'} (PING p50 ${p.p50_ms} ms, bare HTTP p50 ${h.p50_ms} ms, one-way pub/sub to ${size} p50 ${o.p50_ms} ms); ${round(commands, 1)} Redis commands per update ${JSON.stringify(perUpdate)}; RSS mean ${rssMean.toFixed(1)} MiB, max ${(Math.max(...rss) / MIB).toFixed(1)} MiB`,
        );
        const b = bare ? summarize(bare.histogram) : undefined;
        if (b) ctx.progress.note(`${size} nodes: the same exchange in bare processes p50 ${b.p50_ms} ms, p99 ${b.p99_ms} ms (warm after ${bare.warmup.calls})`);
        const cpuFigures = cpuPerFlushFigures(size, cpu, bareCpu);
        if (cpuFigures.length) ctx.progress.note(`${size} nodes: CPU per flush ${cpuFigures.map((c) => `${c.name.split(', ')[1]} ${c.value} µs${c.baseline ? ` (bare ${c.baseline.value})` : ''}`).join(', ')}`);
        details.sizes[size] = { cpu_per_flush_us: cpu, ...(bareCpu ? { bare_exchange_cpu_per_flush_us: bareCpu } : {}), flush: f, warmup, ping: p, bare_http: h, ...(b ? { bare_exchange: b, bare_exchange_warmup: bare.warmup } : {}), one_way_pubsub: o, not_fully_acked: partial, commands_per_update: perUpdate, background_commands_per_s: perSecond(idle, busyMs), rss_bytes: rss };
        const target = size === 3 ? 0.6 : size === 32 ? 8 : null;
        figures.push(
          figure({
            id: `many_${size}_flush_p50`,
            name: `flush round trip p50, ${size} nodes, every node acked`,
            value: f.p50_ms,
            unit: 'ms',
            baseline: { name: 'Redis PING', value: p.p50_ms, unit: 'ms' },
            target: target === null ? null : { on: 'value', op: '<=', value: target, unit: 'ms', text: `≤ ${target} ms` },
          }),
          figure({
            id: `many_${size}_flush_cold_p50`,
            name: `flush round trip p50, ${size} nodes, first 100 flushes after start (code not yet optimized)`,
            value: warmup.window_p50_ms[0],
            unit: 'ms',
            baseline: { name: 'the warm p50 above', value: f.p50_ms, unit: 'ms' },
          }),
          figure({ id: `many_${size}_flush_p99`, name: `flush round trip p99, ${size} nodes`, value: f.p99_ms, unit: 'ms', baseline: { name: 'Redis PING', value: p.p99_ms, unit: 'ms' } }),
          figure({
            id: `many_${size}_flush_vs_pubsub`,
            name: `flush round trip p50, ${size} nodes, against one-way pub/sub delivery to ${size} subscribers`,
            value: f.p50_ms,
            unit: 'ms',
            baseline: { name: `one-way pub/sub to ${size} (BentoCache-style, no acks)`, value: o.p50_ms, unit: 'ms' },
          }),
          figure({
            id: `many_${size}_flush_vs_http`,
            name: `flush round trip p50, ${size} nodes, against a bare HTTP exchange`,
            value: f.p50_ms,
            unit: 'ms',
            baseline: { name: 'bare node:http answering the same JSON, same client', value: h.p50_ms, unit: 'ms' },
          }),
          ...(b
            ? [
                figure({
                  id: `many_${size}_flush_vs_bare`,
                  name: `flush round trip p50, ${size} nodes, against the same exchange in bare processes`,
                  value: f.p50_ms,
                  unit: 'ms',
                  baseline: { name: 'bare node:http + ioredis origin and members: one script, HMAC-signed JSON frames and acks', value: b.p50_ms, unit: 'ms' },
                }),
              ]
            : []),
          ...cpuFigures,
          figure({ id: `many_${size}_fully_acked`, name: `flushes acked by all ${size} nodes`, value: (100 * (calls - partial)) / calls, unit: '%', target: { on: 'value', op: '>=', value: 100, unit: '%', text: '100 %' } }),
          figure({ id: `many_${size}_commands`, name: `Redis commands per update, ${size} nodes`, value: commands, unit: 'commands', ratio: commands / size }),
          figure({ id: `many_${size}_rss`, name: `RSS per node (mean), ${size} nodes`, value: rssMean, unit: 'MiB', baseline: { name: 'largest node', value: Math.max(...rss) / MIB, unit: 'MiB' }, ratio: null }),
        );
      } finally {
        redis.disconnect();
        ctx.progress.update(`stopping ${size} nodes`);
        await cluster.stop();
      }
    }
    const notes = [
      `${calls} sequential DELETE /v1/cache calls to the first node, each checked to report every node applied, after a warm-up until the latency is steady: windows of 100 calls until the median has not improved by more than 5 % over the last 10 windows, after at least ${WARM_CALLS.toLocaleString('en-US')} calls (at most ${STEADY.maxMs / 1000} s; V8 optimizes the nodes' code over the first thousands of flushes, which a warm-up of 20 calls measured instead); the first window is reported as the cold figure; baseline: sequential PINGs (ioredis) from the bench to the same Redis`,
      `the same exchange in bare processes (at ${BARE_SIZES.join(' and ')} nodes; scripts/bench/lib/bare-exchange.mjs), warmed up the same way beside the idle cluster, then measured in turns with the cluster's flushes (blocks of ${BLOCK_CALLS} calls each, alternating, so both meet the same spells of the shared machine): a node:http origin and N - 1 member processes on ioredis, one script per update (INCR, XADD to a capped log, PUBLISH), frames and acks of JSON + HMAC-SHA256 verified on receipt, acks by PUBLISH with Redis's answer; no framework, validation, caches, membership, metrics or logs; the same raw client and warm-up as the cluster's flushes; at the other sizes the cluster's flushes are measured in the same blocks, alone`,
      'CPU per flush: time on a CPU of every thread of each node process (Linux /proc/PID/task/*/schedstat, exact) and of Redis (its INFO cpu, used_cpu_user + used_cpu_sys) over the measured flushes, minus the same processes over the idle window at its rate, divided by the calls; the publishing node is the one the flushes go to, the others are averaged; its threads other than the main one (V8 compiler and GC helpers) are also shown on their own, to show the JIT had finished; the bench (load generator) is not counted. At 3 and 32 nodes beside the same roles in the bare exchange, measured the same way. On two cores, the total against 2 × the p50 says how far the round trip is bound by CPU rather than by waiting',
      'one-way pub/sub (BentoCache-style): the bench PUBLISHes a 120-byte message to a channel with N subscriber connections of its own and times until all N received it; no seq, log or acks, and the N connections share one event loop',
      'commands per update: INFO commandstats delta over the flushes minus the delta over an idle window of the same length (heartbeats, anti-entropy), divided by the calls; ratio = commands per node; each ack is two commands Redis runs but does not answer (CLIENT REPLY SKIP + PUBLISH, docs/architecture.md "Propagation", Acks)',
      `nodes run with ${Object.entries(NODE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')} (bounded heap, no warm start, the event-loop delay sampled every 200 ms: 32 processes stand for 32 machines, whose idle wake-ups would not compete with the flushes); RSS read from each node's /metrics after the flushes`,
    ];
    return { figures, notes, details };
  },
};

/**
 * Warm-up, then `calls` flushes in blocks; at BARE_SIZES the bare exchange is warmed up the same way
 * and measured in turns with the cluster (lib/flush.mjs, measureInBlocks). CPU and Redis commands
 * are read around each block of a side, outside its timing. Resolves { warmup, answer (the last
 * body), flush: { histogram, partial, commands, cpu }, bare?: { histogram, warmup, cpu } }, each
 * cpu one pair of readings for cpuPerCall (cpu-time.mjs, sumReadings).
 */
async function measureFlushes(ctx, { cluster, size, redis, groups, calls }) {
  const steady = ctx.quick ? QUICK_STEADY : STEADY;
  const flusher = await clusterFlusher(cluster, size);
  let bare;
  try {
    const warmup = await warmUntilSteady(async () => (await flusher.once()).ms, { ...steady, onProgress: (i) => ctx.progress.update(`${size} nodes: warm-up flush ${i}`) });
    // The floor of the whole exchange, at the sizes the issue's targets are set for.
    let bareWarmup;
    if (BARE_SIZES.includes(size)) {
      ctx.progress.update(`${size} nodes: starting the same exchange in bare processes`);
      bare = await startBareExchange({ redisUrl: ctx.redis.url, size, answer: flusher.answer() });
      bareWarmup = await warmUntilSteady(async () => (await bare.once()).ms, { ...steady, onProgress: (i) => ctx.progress.update(`${size} nodes: bare exchange warm-up ${i}`) });
      // The cluster's connection stood idle through that warm-up: a fresh one, not a keep-alive that may have run out.
      await flusher.reconnect();
    }
    await profileFromHere(ctx, cluster.nodes);
    const ourPairs = [];
    const barePairs = [];
    const ourCommands = [];
    let from;
    const sides = [
      {
        once: flusher.once,
        before: async () => void (from = { commands: await commandStats(redis), cpu: await cpuReading(groups, redis) }),
        after: async () => {
          ourPairs.push([from.cpu, await cpuReading(groups, redis)]);
          ourCommands.push(diff(await commandStats(redis), from.commands));
        },
      },
    ];
    if (bare) {
      sides.push({
        once: bare.once,
        before: async () => void (from = { cpu: await cpuReading(bare.groups, redis) }),
        after: async () => void barePairs.push([from.cpu, await cpuReading(bare.groups, redis)]),
      });
    }
    const [ours, theirs] = await measureInBlocks(sides, calls, { onProgress: (i) => ctx.progress.update(`${size} nodes: measured flush ${i}${bare ? ', in turns with the bare exchange' : ''}`) });
    return {
      warmup,
      answer: flusher.answer(),
      flush: { histogram: ours.histogram, partial: ours.partial, commands: sumCounts(ourCommands), cpu: sumReadings(ourPairs) },
      ...(bare ? { bare: { histogram: theirs.histogram, warmup: bareWarmup, cpu: sumReadings(barePairs) } } : {}),
    };
  } finally {
    flusher.close();
    await bare?.stop();
  }
}

/** CPU per flush by role (cpuPerCall's), beside the bare exchange's roles where it was measured; none if unreadable. */
function cpuPerFlushFigures(size, cpu, bare) {
  /** The four values of one measurement (ours or the bare exchange's), total null if any part is. */
  const values = ({ groups: { origin, members, origin_background }, redis }) => ({
    origin,
    // Part of the origin's: its threads other than the main one (V8's compiler and GC). Near the
    // bare origin's once the warm-up has let TurboFan finish (lib/flush.mjs, WARM_CALLS).
    origin_background,
    member: members,
    redis,
    total: origin === null || members === null || redis === null ? null : origin + members * (size - 1) + redis,
  });
  const ours = values(cpu);
  if (ours.total === null) return [];
  const theirs = bare ? values(bare) : {};
  const row = (key, name, what) =>
    figure({ id: `many_${size}_cpu_${key}`, name, value: ours[key], unit: 'µs', baseline: theirs[key] == null ? null : { name: `the bare exchange's ${what}`, value: theirs[key], unit: 'µs' } });
  return [
    row('origin', `CPU per flush, the publishing node, ${size} nodes`, 'origin'),
    row('origin_background', `CPU per flush, the publishing node's threads other than the main one (V8's compiler and GC), ${size} nodes`, "origin's"),
    row('member', `CPU per flush, each other node (mean), ${size} nodes`, 'member (mean)'),
    row('redis', `CPU per flush, Redis, ${size} nodes`, 'Redis'),
    row('total', `CPU per flush, all ${size} nodes and Redis`, 'processes together'),
  ];
}

/** `cmdstat_<name>:calls=N,...` of INFO commandstats, as name -> calls (the bench's own left out). */
async function commandStats(redis) {
  const out = {};
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m && !OURS.has(m[1])) out[m[1]] = Number(m[2]);
  }
  return out;
}

function diff(after, before) {
  const out = {};
  for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** Per-block commandstats deltas added up. */
function sumCounts(deltas) {
  const out = {};
  for (const d of deltas) for (const [k, v] of Object.entries(d)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function perSecond(counts, ms) {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => [k, round((n * 1000) / ms, 1)]));
}
