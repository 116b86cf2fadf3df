// Beyond one machine, by simulation (issue 16, point 5): 1,000 nodes, each the real Replicator of
// packages/node/dist on its own endpoint of @authcache/testkit's in-memory transport, with injected
// latency and loss, in SIMULATED time (lib/sim-clock.mjs: an event queue, not the wall clock).
// (a) publish to every node acked, p50/p99; (b) time to every node in sync after 10 % of the nodes
// were cut off during some updates and healed. Plus the per-update costs the design pays at 1,000
// and 10,000 nodes. docs/architecture.md, "Scaling limits".
import { figure } from '../lib/figures.mjs';
import { SimClock } from '../lib/sim-clock.mjs';
import { startSimCluster } from '../lib/sim-cluster.mjs';
import { ackDecodeMicros, heartbeatBytes, redisPublishRate } from '../lib/sim-costs.mjs';
import { fullAckStream, partitionRounds } from '../lib/sim-scenarios.mjs';
import { percentile, round } from '../lib/stats.mjs';
import { testkit } from '../lib/deps.mjs';

const { seededRandom } = testkit;

const FULL = { nodes: 1000, updates: 200, rounds: 3, during: 10 };
const QUICK = { nodes: 200, updates: 40, rounds: 1, during: 5 };
/** The node's defaults (AUTHCACHE_HEARTBEAT_MS, AUTHCACHE_ACK_TIMEOUT_MS, AUTHCACHE_LOG_MAX_LEN). */
const HEARTBEAT_MS = 1000;
const ACK_TIMEOUT_MS = 2000;
const LOG_MAX_LEN = 10_000;
/** One region over several zones: one-way node-to-Redis latency, fixed per node, plus jitter per message. */
const NET = { oneWayMs: [0.2, 2], jitterMs: 0.5 };
const LOSSES = [0, 0.01];
const GAP_MS = 10;
const PARTITION = { fraction: 0.1, partitionMs: 5000, boundMs: 10_000 };
const SEED = 16;
const SCALES = [1000, 10_000];
/** Full runs only: the update stream (a) at 10,000 nodes. */
const LARGE = { nodes: 10_000, updates: 10 };

export default {
  name: 'simulation',
  title: `${FULL.nodes.toLocaleString('en-US')} simulated nodes (the real replicator, SIMULATED time): publish to every node acked, and convergence after a 10 % partition is healed`,
  async run(ctx) {
    const p = ctx.quick ? QUICK : FULL;
    const figures = [];
    const details = { clock: 'simulated (event queue; no wall-clock time in any figure of (a) or (b))', params: { ...p, heartbeat_ms: HEARTBEAT_MS, ack_timeout_ms: ACK_TIMEOUT_MS, net: NET, losses: LOSSES, partition: PARTITION, seed: SEED }, runs: {} };
    let perUpdate;
    for (const loss of LOSSES) {
      const label = `loss ${loss * 100} %`;
      const run = await simulate(ctx, { nodes: p.nodes, updates: p.updates, rounds: p.rounds, during: p.during, loss, label });
      perUpdate ??= run.a.perUpdate;
      details.runs[label] = summarizeRun(run);
      figures.push(...runFigures(p.nodes, label, run));
      ctx.progress.note(`${p.nodes} nodes, ${label}: ${describe(details.runs[label])}`);
    }
    // The same stream at ten times the nodes, without partitions: where (a) goes at 10,000.
    for (const loss of ctx.quick ? [] : LOSSES) {
      const label = `loss ${loss * 100} %`;
      const run = await simulate(ctx, { nodes: LARGE.nodes, updates: LARGE.updates, rounds: 0, during: 0, loss, label: `${LARGE.nodes} nodes, ${label}` });
      const s = summarizeRun(run);
      details.runs[`${LARGE.nodes} nodes, ${label}`] = s;
      const k = LARGE.nodes.toLocaleString('en-US');
      const tag = `${LARGE.nodes}_${label.replace(/[^0-9a-z]+/g, '')}`;
      figures.push(
        figure({ id: `sim_ack_p50_${tag}`, name: `${k} nodes, ${label}: publish to every node acked, p50 (simulated, ${LARGE.updates} updates)`, value: s.full_ack.p50_ms, unit: 'ms', baseline: { name: 'every node applied, p50', value: s.all_applied.p50_ms, unit: 'ms' } }),
        figure({ id: `sim_ack_p99_${tag}`, name: `${k} nodes, ${label}: publish to every node acked, p99 (simulated, ${LARGE.updates} updates)`, value: s.full_ack.p99_ms, unit: 'ms', baseline: { name: 'every node applied, p99', value: s.all_applied.p99_ms, unit: 'ms' } }),
        figure({ id: `sim_fully_acked_${tag}`, name: `${k} nodes, ${label}: updates every node acked within the ack timeout`, value: (100 * s.full_ack.fully_acked) / s.full_ack.updates, unit: '%', target: { on: 'value', op: '>=', value: 100, unit: '%', text: '100 %' } }),
      );
      ctx.progress.note(`${k} nodes, ${label}: ${describe(s)}`);
    }

    ctx.progress.update('measuring the per-ack cost, the heartbeat size and the Redis PUBLISH rate on this machine');
    const ack = ackDecodeMicros(ctx.quick ? 5000 : 50_000);
    const hbBytes = heartbeatBytes();
    const publishRate = await redisPublishRate(ctx.redis.url, { total: ctx.quick ? 20_000 : 100_000, batch: 500, payloadBytes: ack.frameBytes });
    details.costs = { ack_decode_us: round(ack.us, 2), ack_frame_bytes: ack.frameBytes, heartbeat_entry_bytes: hbBytes, redis_publish_per_s: Math.round(publishRate), per_update_counted: perUpdate };
    figures.push(
      figure({ id: 'sim_redis_publish_rate', name: `one Redis: ack-sized PUBLISHes per second (pipelined, this machine)`, value: publishRate, unit: 'req/s' }),
    );
    for (const n of SCALES) {
      const k = n.toLocaleString('en-US');
      figures.push(
        figure({ id: `sim_${n}_fanin_cpu`, name: `${k} nodes: origin CPU to verify one update's acks (${round(ack.us, 2)} µs each)`, value: (n * ack.us) / 1000, unit: 'ms' }),
        figure({ id: `sim_${n}_members_read`, name: `${k} nodes: membership read per publish (${hbBytes} B per member)`, value: (n * hbBytes) / 1024, unit: 'KiB' }),
        figure({ id: `sim_${n}_max_updates`, name: `${k} nodes: updates/s one Redis can ack (PUBLISH rate ÷ ${k} acks; ${k} anti-entropy reads/s beside)`, value: publishRate / n, unit: 'updates/s' }),
      );
    }
    const notes = [
      `SIMULATED time (scripts/bench/lib/sim-clock.mjs): the real Replicator of packages/node/dist on @authcache/testkit's in-memory transport, timers on an event queue; (a) and (b) count no CPU time, only the modelled network`,
      `network model: one-way node↔Redis latency ${NET.oneWayMs[0]}–${NET.oneWayMs[1]} ms fixed per node (uniform), +0–${NET.jitterMs} ms jitter per message; a command answers one round trip after it is sent (errs on the slow side); each update delivery lost with the stated probability; acks not lost; heartbeat ${HEARTBEAT_MS} ms, ack timeout ${ACK_TIMEOUT_MS} ms (the defaults); seed ${SEED}`,
      `(a): ${p.updates} sequential updates from random nodes, ${GAP_MS} ms apart, ${p.nodes} nodes; p50/p99 over the updates every node acked. (b): ${p.rounds} rounds of ${PARTITION.fraction * 100} % of the nodes cut off for ${PARTITION.partitionMs / 1000} s while ${p.during} updates are published, then healed at once; time from the heal to every node at the newest seq`,
      `the 1,000- and 10,000-node cost rows multiply what one ack, one member entry and one PUBLISH cost on this machine; they are not simulated`,
    ];
    return { figures, notes, details };
  },
};

/** One simulated cluster under a clock of its own: the update stream (a), then the partition rounds (b). */
async function simulate(ctx, { nodes, updates, rounds, during, loss, label }) {
  const random = seededRandom(SEED + nodes + Math.round(loss * 1000));
  const clock = new SimClock();
  const uninstall = clock.install();
  const wall = Date.now();
  let run;
  try {
    ctx.progress.update(`${label}: starting ${nodes} simulated nodes`);
    const cluster = await startSimCluster({ clock, nodes, heartbeatMs: HEARTBEAT_MS, ackTimeoutMs: ACK_TIMEOUT_MS, logMaxLen: LOG_MAX_LEN, net: { ...NET, loss }, random });
    try {
      const bgFrom = { position: cluster.counters.position, at: clock.now };
      const a = await fullAckStream({ clock, cluster, updates, gapMs: GAP_MS, ackTimeoutMs: ACK_TIMEOUT_MS, random, onProgress: (s) => ctx.progress.update(`${label}: ${s}`) });
      const positionReadsPerS = ((cluster.counters.position - bgFrom.position) * 1000) / (clock.now - bgFrom.at);
      const b = await partitionRounds({ clock, cluster, rounds, during, ...PARTITION, ackTimeoutMs: ACK_TIMEOUT_MS, heartbeatMs: HEARTBEAT_MS, random, onProgress: (s) => ctx.progress.update(`${label}: ${s}`) });
      run = { a, b, positionReadsPerS, sums: { ...cluster.sums }, simulated_s: round(clock.now / 1000, 1), events: clock.events };
    } finally {
      await cluster.stop();
    }
  } finally {
    uninstall();
  }
  run.wall_s = round((Date.now() - wall) / 1000, 1);
  return run;
}

function summarizeRun(run) {
  const { a, b } = run;
  const conv = b.map((r) => r.converge_ms).filter((x) => x !== null);
  return {
    simulated_s: run.simulated_s,
    wall_s: run.wall_s,
    events: run.events,
    full_ack: { updates: a.updates, fully_acked: a.full, p50_ms: round(percentile(a.ackMs, 50), 2), p99_ms: round(percentile(a.ackMs, 99), 2), max_ms: round(Math.max(...a.ackMs), 2) },
    all_applied: { p50_ms: round(percentile(a.appliedMs, 50), 2), p99_ms: round(percentile(a.appliedMs, 99), 2) },
    per_update: a.perUpdate,
    anti_entropy_reads_per_s: round(run.positionReadsPerS, 1),
    partition_rounds: b,
    converge_ms: { p50: conv.length ? round(percentile(conv, 50), 1) : null, max: conv.length ? round(Math.max(...conv), 1) : null, not_converged: b.length - conv.length },
    healed_caught_up_p99_ms: b.length ? round(Math.max(...b.map((r) => r.healed_caught_up_ms.p99)), 1) : null,
    replicator_sums: run.sums,
  };
}

function runFigures(nodes, label, run) {
  const s = summarizeRun(run);
  const tag = label.replace(/[^0-9a-z]+/g, '');
  const k = nodes.toLocaleString('en-US');
  return [
    figure({ id: `sim_ack_p50_${tag}`, name: `${k} nodes, ${label}: publish to every node acked, p50 (simulated)`, value: s.full_ack.p50_ms, unit: 'ms', baseline: { name: 'every node applied, p50', value: s.all_applied.p50_ms, unit: 'ms' } }),
    figure({ id: `sim_ack_p99_${tag}`, name: `${k} nodes, ${label}: publish to every node acked, p99 (simulated)`, value: s.full_ack.p99_ms, unit: 'ms', baseline: { name: 'every node applied, p99', value: s.all_applied.p99_ms, unit: 'ms' } }),
    figure({ id: `sim_fully_acked_${tag}`, name: `${k} nodes, ${label}: updates every node acked within the ack timeout`, value: (100 * s.full_ack.fully_acked) / s.full_ack.updates, unit: '%', target: { on: 'value', op: '>=', value: 100, unit: '%', text: '100 %' } }),
    figure({ id: `sim_converge_${tag}`, name: `${k} nodes, ${label}: heal of a 10 % partition to every node in sync, worst of ${run.b.length} (simulated)`, value: s.converge_ms.max ?? NaN, unit: 'ms', baseline: { name: 'healed nodes caught up, p99', value: s.healed_caught_up_p99_ms, unit: 'ms' }, target: { on: 'value', op: '<=', value: PARTITION.boundMs, unit: 'ms', text: `in sync, ≤ ${PARTITION.boundMs / 1000} s` } }),
    figure({ id: `sim_acks_per_update_${tag}`, name: `${k} nodes, ${label}: ack frames into the origin per update`, value: s.per_update.sendAck, unit: 'frames', ratio: s.per_update.sendAck / nodes }),
    figure({ id: `sim_ae_reads_${tag}`, name: `${k} nodes, ${label}: anti-entropy position reads per second (all nodes)`, value: s.anti_entropy_reads_per_s, unit: 'reads/s' }),
  ];
}

function describe(s) {
  return `acked by all in p50 ${s.full_ack.p50_ms} ms, p99 ${s.full_ack.p99_ms} ms (${s.full_ack.fully_acked}/${s.full_ack.updates} fully); all applied p50 ${s.all_applied.p50_ms} ms; in sync after a heal in ≤ ${s.converge_ms.max} ms (healed nodes p99 ${s.healed_caught_up_p99_ms} ms); ${s.per_update.sendAck} acks/update; ${s.simulated_s} s simulated in ${s.wall_s} s wall, ${s.events} events; replicator: ${JSON.stringify(s.replicator_sums)}`;
}
