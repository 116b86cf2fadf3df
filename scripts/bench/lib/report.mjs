import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTarget, formatValue } from './figures.mjs';

/**
 * The file name (without extension) a run writes. bench/results.json and .md are the figures the
 * README quotes and git keeps: only a plain full run may replace them. A quick or partial run
 * (some benchmarks, a profiler attached, an experimental node environment) gets a name of its own,
 * which git ignores (bench/.gitignore), so trying something out never rewrites the committed figures.
 */
export function resultsStem({ quick, only, profile, nodeEnv }) {
  if (quick) return 'results.quick';
  if (only || profile || nodeEnv) return 'results.partial';
  return 'results';
}

export function writeResults(outDir, results, stem = 'results') {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `${stem}.json`);
  const mdPath = join(outDir, `${stem}.md`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(mdPath, markdown(results, `${stem}.json`));
  return { jsonPath, mdPath };
}

export function markdown(results, jsonName = 'results.json') {
  const m = results.machine;
  const lines = [];
  if (results.node_env) lines.push(`> Nodes ran with extra environment ${Object.entries(results.node_env).map(([k, v]) => `\`${k}=${v}\``).join(' ')} (an experiment, not the defaults).`, '');
  if (results.quick) lines.push('> **QUICK RUN** (`npx -y pnpm@10 bench --quick`): short durations and fewer users, for development only; not the figures to quote.', '');
  lines.push(
    `Measured ${m.date.slice(0, 10)} on ${m.cpu_model}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.os}, Node ${m.node}` +
      `${m.commit ? `, commit ${m.commit}${m.dirty ? ' (with local changes)' : ''}` : ''}; load average at start ${m.load_average_at_start.join(' ')}` +
      `${m.idle ? `; idle CPUs: cpuidle ${m.idle.cpuidle_driver}${m.idle.guest_halt_poll_ns === undefined ? '' : `, guest_halt_poll_ns ${m.idle.guest_halt_poll_ns}`}` : ''}.`,
    '',
    '| Benchmark | Figure | Value | Baseline (same run) | Ratio | Target | Result |',
    '|---|---|---:|---|---:|---|:---:|',
  );
  for (const b of results.benchmarks) {
    if (b.error) {
      lines.push(`| ${b.name} | — | — | — | — | — | error: ${escape(b.error.split('\n')[0])} |`);
      continue;
    }
    for (const f of b.figures) {
      const base = f.baseline ? `${formatValue(f.baseline.value, f.baseline.unit)} (${f.baseline.name})` : '—';
      const ratio = f.ratio === null || f.ratio === undefined ? '—' : f.ratio.toFixed(2);
      const result = f.pass === null ? '—' : f.pass ? 'pass' : '**FAIL**';
      lines.push(`| ${b.name} | ${escape(f.name)} | ${formatValue(f.value, f.unit)} | ${escape(base)} | ${ratio} | ${escape(formatTarget(f.target))} | ${result} |`);
    }
  }
  const notes = results.benchmarks.flatMap((b) => (b.notes ?? []).map((n) => `- ${b.name}: ${n}`));
  if (notes.length) lines.push('', ...notes);
  lines.push('', `Reproduce: \`npx -y pnpm@10 bench${results.quick ? ' --quick' : ''}\` (see \`${jsonName}\` beside this file for every detail).`, '');
  return lines.join('\n');
}

function escape(s) {
  return String(s).replace(/\|/g, '\\|');
}
