import { execFileSync } from 'node:child_process';
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
  };
}
