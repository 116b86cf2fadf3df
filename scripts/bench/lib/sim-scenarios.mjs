// The two scenarios of the simulation benchmark (docs/architecture.md, "Scaling limits"), on a
// started sim cluster: (a) a stream of updates, each from a random node, timed from publish to
// every node acked; (b) 10 % of the nodes cut off while updates are published, then healed, timed
// to every node in sync. Every loop runs a fixed number of times and every wait is bounded.
import { publishAndWait } from './sim-cluster.mjs';
import { percentile } from './stats.mjs';

const flushUser = (u) => ({ kind: 'flush_users', body: { usernames: [u] } });

/** (a): `updates` sequential publishes, `gapMs` of simulated time apart. */
export async function fullAckStream({ clock, cluster, updates, gapMs, ackTimeoutMs, random, onProgress }) {
  const ackMs = [];
  const appliedMs = [];
  let full = 0;
  const before = { ...cluster.counters };
  const t0 = clock.now;
  for (let i = 0; i < updates; i++) {
    const origin = cluster.replicas[Math.floor(random() * cluster.replicas.length)];
    const start = clock.now;
    const r = await publishAndWait(clock, cluster, origin, flushUser(`a${i}`), ackTimeoutMs);
    if (r.full) {
      full++;
      ackMs.push(r.ms);
    }
    const all = cluster.allAppliedAt.get(r.seq);
    if (all !== undefined) appliedMs.push(all - start);
    if (i % 10 === 0) onProgress?.(`${i}/${updates} updates`);
    await clock.advance(gapMs);
  }
  const delta = diff(cluster.counters, before);
  return { updates, full, ackMs, appliedMs, simulatedMs: clock.now - t0, perUpdate: perUpdate(delta, updates), counters: delta };
}

/**
 * (b): `rounds` times: cut `fraction` of the nodes (never the publishing one), publish `during`
 * updates, keep them cut until `partitionMs` after the cut, heal them all at once, and run until
 * every node applied the newest seq (bounded by `boundMs`).
 */
export async function partitionRounds({ clock, cluster, rounds, fraction, during, partitionMs, boundMs, ackTimeoutMs, heartbeatMs, random, onProgress }) {
  const out = [];
  const n = cluster.replicas.length;
  for (let round = 0; round < rounds; round++) {
    const origin = cluster.replicas[Math.floor(random() * n)];
    const others = cluster.replicas.filter((r) => r !== origin);
    const cut = pick(others, Math.round(fraction * n), random);
    const cutAt = clock.now;
    for (const r of cut) cluster.cut(r);
    const publishMs = [];
    let notFull = 0;
    for (let i = 0; i < during; i++) {
      const r = await publishAndWait(clock, cluster, origin, flushUser(`p${round}-${i}`), ackTimeoutMs);
      publishMs.push(r.ms);
      if (!r.full) notFull++;
    }
    await clock.run({ deadline: Math.max(clock.now, cutAt + partitionMs) });
    const target = cluster.store.seq;
    const healAt = clock.now;
    for (const r of cut) cluster.heal(r);
    // When each healed node first had the newest seq (checked after every simulated instant).
    const caughtUp = new Map();
    const converged = await clock.run({
      deadline: healAt + boundMs,
      until: () => {
        for (const r of cut) if (!caughtUp.has(r.id) && r.replicator.appliedSeq >= target) caughtUp.set(r.id, clock.now - healAt);
        return caughtUp.size === cut.length && cluster.inSync();
      },
    });
    const convergeMs = converged ? clock.now - healAt : null;
    const healed = [...caughtUp.values()];
    out.push({
      cut: cut.length,
      updates_during: during,
      partition_ms: Math.round(healAt - cutAt),
      publish_ms_during: { p50: percentile(publishMs, 50), max: Math.max(...publishMs) },
      not_fully_acked_during: notFull,
      converge_ms: convergeMs,
      healed_caught_up_ms: { p50: percentile(healed, 50), p99: percentile(healed, 99), max: Math.max(...healed) },
    });
    onProgress?.(`partition round ${round + 1}/${rounds}: in sync ${convergeMs === null ? 'NOT within the bound' : `${Math.round(convergeMs)} ms`} after the heal`);
    // Settle before the next round: every node ticks at least twice.
    await clock.advance(2 * heartbeatMs);
  }
  return out;
}

function pick(items, k, random) {
  const a = [...items];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

function diff(now, before) {
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

function perUpdate(delta, updates) {
  return Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, Math.round((100 * v) / updates) / 100]));
}
