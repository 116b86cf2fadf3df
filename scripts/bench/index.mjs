#!/usr/bin/env node
// `pnpm bench`: the performance figures of issue 6, each beside its physical baseline measured in the
// same run. Progress goes to stderr. Only a plain full run writes bench/results.json and
// bench/results.md (the committed figures the README quotes); any other run writes
// results.quick.* or results.partial.* (see lib/report.mjs) and says where.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scriptArgs } from '../lib/script-args.mjs';
import { repoRoot, testkit, Redis } from './lib/deps.mjs';
import { machine } from './lib/machine.mjs';
import { Progress } from './lib/progress.mjs';
import { summarizeProfiles } from './lib/profile.mjs';
import { resultsStem, writeResults } from './lib/report.mjs';
import cachedLogin from './benchmarks/cached-login.mjs';
import coldStorm from './benchmarks/cold-storm.mjs';
import flushRoundTrip from './benchmarks/flush-roundtrip.mjs';
import memory from './benchmarks/memory.mjs';
import flushRecovery from './benchmarks/flush-recovery.mjs';
import manyNodes from './benchmarks/many-nodes.mjs';
import postgres from './benchmarks/postgres.mjs';
import ldap from './benchmarks/ldap.mjs';
import authorize from './benchmarks/authorize.mjs';
import simulation from './benchmarks/simulation.mjs';

const BENCHMARKS = [cachedLogin, coldStorm, flushRoundTrip, memory, flushRecovery, manyNodes, postgres, ldap, authorize, simulation];

const USAGE = `usage: npx -y pnpm@10 bench [--quick] [--only NAME[,NAME...]] [--profile] [--node-env KEY=VALUE]... [--out DIR]

  --quick      short durations and fewer users, for development (outputs are marked QUICK)
  --only       run only these benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}
  --profile    CPU-profile the nodes under test during the measured phase and print where the time went
               (profiles in a temp dir named on stderr, one folder per benchmark)
  --node-env   extra environment for every node under test, for experiments (e.g. UV_THREADPOOL_SIZE=2);
               recorded in the results
  --out DIR    the directory the results go to (default: bench/)

Only a plain full run (none of --quick, --only, --profile, --node-env) writes results.json and
results.md, the committed figures; --quick writes results.quick.json/.md, the others
results.partial.json/.md (both ignored by git), so a development run never replaces them.
`;

let args;
try {
  args = parseArgs({
    args: scriptArgs(),
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      profile: { type: 'boolean', default: false },
      'node-env': { type: 'string', multiple: true },
      out: { type: 'string', default: join(repoRoot, 'bench') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  process.stderr.write(`bench: ${err.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const wanted = (args.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
if (unknown.length) {
  process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const nodeEnv = {};
for (const pair of args['node-env'] ?? []) {
  const eq = pair.indexOf('=');
  if (eq <= 0) {
    process.stderr.write(`bench: --node-env wants KEY=VALUE, got "${pair}"\n${USAGE}`);
    process.exit(2);
  }
  nodeEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
}
const selected = wanted.length ? BENCHMARKS.filter((b) => wanted.includes(b.name)) : BENCHMARKS;

const progress = new Progress();
const info = machine();
process.stderr.write(
  `authcache bench${args.quick ? ' (QUICK: development figures only)' : ''}: ${selected.map((b) => b.name).join(', ')}\n` +
    (Object.keys(nodeEnv).length ? `  extra node environment: ${JSON.stringify(nodeEnv)}\n` : '') +
    `  ${info.cpu_model}, ${info.cores} cores, Node ${info.node}, load average ${info.load_average_at_start.join(' ')}\n`,
);

const redis = await testkit.startRedis({ preferOwn: true });
// Profiles are big and not results: a temp dir, named on stderr, rather than the repo's bench/.
const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'authcache-bench-profiles-')) : undefined;
if (profileDir) process.stderr.write(`  CPU profiles of the nodes go to ${profileDir}\n`);
const ctx = { quick: args.quick, redis, progress, profileDir, nodeEnv };
const benchmarks = [];
let failed = 0;
try {
  for (const [i, bench] of selected.entries()) {
    progress.section(i + 1, selected.length, bench.name, bench.title);
    const started = Date.now();
    try {
      const out = await bench.run(ctx);
      const entry = { name: bench.name, title: bench.title, seconds: Math.round((Date.now() - started) / 100) / 10, ...out };
      if (profileDir) {
        entry.profile = summarizeProfiles(join(profileDir, bench.name));
        const bare = summarizeProfiles(join(profileDir, `${bench.name}-baseline`));
        if (bare) entry.baseline_profile = bare;
      }
      benchmarks.push(entry);
      progress.clear();
      for (const f of out.figures) {
        const verdict = f.pass === null ? '' : f.pass ? '  pass' : '  FAIL';
        const base = f.baseline ? `  (baseline ${f.baseline.value} ${f.baseline.unit}${f.ratio !== null ? `, ratio ${f.ratio}` : ''})` : '';
        process.stderr.write(`  = ${f.name}: ${f.value} ${f.unit}${base}${verdict}\n`);
      }
      if (entry.profile) printProfile('the nodes', entry.profile);
      if (entry.baseline_profile) printProfile('the baseline server', entry.baseline_profile);
    } catch (err) {
      failed++;
      progress.clear();
      process.stderr.write(`  ! ${bench.name} failed: ${err.stack ?? err}\n`);
      benchmarks.push({ name: bench.name, title: bench.title, error: String(err.message ?? err), figures: [] });
    } finally {
      // Each benchmark starts from an empty Redis: keys left over would skew memory and warm-up.
      await flushRedis(redis.url).catch(() => undefined);
    }
  }
} finally {
  await redis.stop().catch(() => undefined);
}

const results = { quick: args.quick, ...(Object.keys(nodeEnv).length ? { node_env: nodeEnv } : {}), machine: { ...info, load_average_at_end: loadavg().map((n) => Math.round(n * 100) / 100) }, benchmarks };
const stem = resultsStem({ quick: args.quick, only: wanted.length > 0, profile: args.profile, nodeEnv: Object.keys(nodeEnv).length > 0 });
const { jsonPath, mdPath } = writeResults(args.out, results, stem);
process.stderr.write(
  `wrote ${jsonPath} and ${mdPath}` +
    (stem === 'results' ? '\n' : ` (${args.quick ? 'QUICK' : 'partial'} run: the committed bench/results.* are unchanged)\n`),
);
// A missed target is a finding, not a crash; only a benchmark that could not run fails the command.
process.exit(failed ? 1 : 0);

async function flushRedis(url) {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

function printProfile(whose, p) {
  process.stderr.write(`  CPU profile of ${whose} (${p.profiles} profiles, ${p.busy_ms} ms busy), self time by area:\n`);
  for (const a of p.by_area.slice(0, 10)) process.stderr.write(`    ${String(a.percent).padStart(5)} %  ${a.name}\n`);
  process.stderr.write('  top functions:\n');
  for (const f of p.top_functions.slice(0, 15)) process.stderr.write(`    ${String(f.percent).padStart(5)} %  ${f.name}\n`);
}
