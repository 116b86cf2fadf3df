import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { repoRoot } from './deps.mjs';

export function machine() {
  const cpus = os.cpus();
  let commit = null;
  let dirty = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {
    // not a git checkout (a tarball): the figures still stand, without a commit to pin them to
  }
  return {
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    cpu_model: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    date: new Date().toISOString(),
    load_average_at_start: os.loadavg().map((n) => Math.round(n * 100) / 100),
    commit,
    dirty,
    idle: idleSettings(),
  };
}

/**
 * How an idle CPU waits, where Linux says: on a VM whose idle vCPUs halt at once (haltpoll with
 * guest_halt_poll_ns 0), every wake-up of a process on an idle vCPU is a VM exit, and a flush's
 * round trip is a chain of such wake-ups (docs/architecture.md, "What the round trip scales with").
 */
function idleSettings() {
  const read = (path) => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const driver = read('/sys/devices/system/cpu/cpuidle/current_driver');
  const pollNs = read('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  if (driver === null) return null;
  return { cpuidle_driver: driver, ...(pollNs === null ? {} : { guest_halt_poll_ns: Number(pollNs) }) };
}
