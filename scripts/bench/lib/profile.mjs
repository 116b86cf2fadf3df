import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './deps.mjs';

/**
 * Self time by function of the V8 CPU profiles in `dir` (see cpu-profiler.cjs), merged, plus the
 * same grouped by where the code lives (our packages, each dependency, node internals, GC); as shares
 * of the busy time (idle left out).
 */
export function summarizeProfiles(dir, top = 20) {
  let files;
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  const byFrame = new Map();
  const byArea = new Map();
  let total = 0;
  for (const f of files) {
    const profile = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map();
    const { samples, timeDeltas } = profile;
    for (let i = 0; i < samples.length; i++) {
      // timeDeltas[i] is the time before sample i; the time after it is the better guess of its cost.
      const dt = Math.max(0, timeDeltas[i + 1] ?? 0);
      selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt);
    }
    for (const [id, us] of selfUs) {
      const frame = nodes.get(id)?.callFrame;
      // Idle is the loop waiting for work: the question is where the busy time goes.
      if (!frame || frame.functionName === '(idle)') continue;
      const where = location(frame);
      const key = `${frame.functionName || '(anonymous)'}  ${where}`;
      byFrame.set(key, (byFrame.get(key) ?? 0) + us);
      const a = area(frame);
      byArea.set(a, (byArea.get(a) ?? 0) + us);
      total += us;
    }
  }
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), percent: Math.round((1000 * us) / total) / 10 }));
  return { profiles: files.length, busy_ms: Math.round(total / 1000), top_functions: rank(byFrame), by_area: rank(byArea) };
}

function location(frame) {
  if (!frame.url) return '';
  const path = frame.url.replace(/^file:\/\//, '');
  const rel = path.startsWith(repoRoot) ? relative(repoRoot, path) : path;
  return `${rel.replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')}:${frame.lineNumber + 1}`;
}

function area(frame) {
  const name = frame.functionName;
  if (!frame.url) {
    if (name === '(garbage collector)' || name === '(idle)' || name === '(program)' || name === '(root)') return name;
    return `native: ${name || '(anonymous)'}`;
  }
  const url = frame.url;
  const dep = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1];
  const ours = /packages\/([^/]+)\//.exec(url);
  if (ours) return `@authcache/${ours[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}
