// CPU time spent per flush, by process: where a round trip's cost goes once the two cores, not the
// wire, bound it. Node processes are read off Linux's scheduler (every thread's time on a CPU,
// /proc/PID/task/TID/schedstat: exact, not tick-sampled); Redis off its own INFO cpu (getrusage),
// which also works when Redis runs elsewhere. Where neither answers, the figure is left out.
import { readdirSync, readFileSync } from 'node:fs';

/** The first field of a schedstat line: nanoseconds this thread ran on a CPU. */
export function schedstatNs(text) {
  const ns = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(ns)) throw new Error(`not a schedstat line: ${JSON.stringify(text.slice(0, 80))}`);
  return ns;
}

/**
 * Nanoseconds the live threads of `pid` ran on a CPU, in one pass over /proc/PID/task: `total`
 * (every thread) and `background` (every thread but the main one, whose id is the pid: in a node
 * process V8's compiler and GC helpers, which show whether the JIT is still at work; lib/flush.mjs,
 * WARM_CALLS). Undefined off Linux / for a gone pid.
 */
export function threadCpuNs(pid) {
  try {
    let total = 0;
    let main = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ns = schedstatNs(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
      total += ns;
      if (Number(tid) === pid) main = ns;
    }
    return { total, background: total - main };
  } catch {
    return undefined;
  }
}

/** threadCpuNs's total (or with `background`, its background), or undefined off Linux / for a gone pid. */
export function processCpuNs(pid, { background = false } = {}) {
  const t = threadCpuNs(pid);
  return t === undefined ? undefined : background ? t.background : t.total;
}

/** used_cpu_user + used_cpu_sys of an INFO cpu answer, in nanoseconds (undefined if absent). */
export function redisCpuFromInfo(info) {
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1]);
  const s = field('used_cpu_user') + field('used_cpu_sys');
  return Number.isFinite(s) ? Math.round(s * 1e9) : undefined;
}

/**
 * A reading of named groups of pids and of Redis: `{ at, groups: { name: [ns per pid],
 * name_background: [ns of the threads but the main one, per pid] }, redis }`. `redis` is an
 * ioredis client (or null to leave Redis out).
 */
export async function cpuReading(groups, redis) {
  const out = { at: performance.now(), groups: {}, redis: undefined };
  for (const [name, pids] of Object.entries(groups)) {
    const read = pids.map(threadCpuNs);
    out.groups[name] = read.map((t) => t?.total);
    out.groups[`${name}_background`] = read.map((t) => t?.background);
  }
  if (redis) out.redis = redisCpuFromInfo(await redis.info('cpu'));
  return out;
}

/**
 * Microseconds of CPU per call between two readings, per group as the mean over its processes, and
 * for Redis; `background` (a pair of readings over an idle window) is subtracted at its rate, so
 * heartbeats and anti-entropy do not count as the flushes' cost. A value that cannot be read is null.
 */
export function cpuPerCall(from, to, calls, background) {
  const ms = to.at - from.at;
  const rate = (a, b) => (b === undefined || a === undefined ? undefined : (b - a) / (background[1].at - background[0].at));
  const net = (a, b, idleRate) => {
    if (a === undefined || b === undefined) return null;
    const idle = idleRate === undefined ? 0 : idleRate * ms;
    return Math.max(0, Math.round((b - a - idle) / calls / 1000));
  };
  const groups = {};
  for (const [name, before] of Object.entries(from.groups)) {
    const per = before.map((a, i) => net(a, to.groups[name][i], background ? rate(background[0].groups[name]?.[i], background[1].groups[name]?.[i]) : undefined));
    groups[name] = per.some((v) => v === null) || per.length === 0 ? null : Math.round(per.reduce((x, y) => x + y, 0) / per.length);
  }
  const redis = net(from.redis, to.redis, background ? rate(background[0].redis, background[1].redis) : undefined);
  return { groups, redis };
}

/**
 * Pairs of readings ([from, to], one per block of a measurement taken in blocks: flush.mjs,
 * measureInBlocks) as the one pair cpuPerCall reads: the time between each pair and each value's
 * difference, added up. A value unreadable in any pair stays undefined.
 */
export function sumReadings(pairs) {
  const diff = (a, b) => (a === undefined || b === undefined ? undefined : b - a);
  const add = (sum, d) => (sum === undefined || d === undefined ? undefined : sum + d);
  const from = { at: 0, groups: {}, redis: 0 };
  const to = { at: 0, groups: {}, redis: 0 };
  for (const [a, b] of pairs) {
    to.at += b.at - a.at;
    to.redis = add(to.redis, diff(a.redis, b.redis));
    for (const [name, before] of Object.entries(a.groups)) {
      from.groups[name] ??= before.map(() => 0);
      const sums = to.groups[name] ?? from.groups[name];
      to.groups[name] = before.map((v, i) => add(sums[i], diff(v, b.groups[name]?.[i])));
    }
  }
  if (pairs.length === 0) to.redis = undefined;
  return { from, to };
}
