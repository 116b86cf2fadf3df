import { join } from 'node:path';
import { baselineProfiling, startBaselineServer } from '../lib/baseline-process.mjs';
import { repoRoot } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { json } from '../lib/http.mjs';
import { assertAllAnswered, loadWithProgress } from '../lib/load.mjs';
import { admin, clusterIdentity, profileFromHere, startBenchNode } from '../lib/nodes.mjs';

const CONNECTIONS = 50;
const USER = 'bench_cached';
const PASSWORD = 'correct horse battery staple';

export default {
  name: 'cached-login',
  title: `cached login throughput and latency, one node, ${CONNECTIONS} connections, against a bare node:http HMAC check`,
  async run(ctx) {
    const durationS = ctx.quick ? 2 : 10;
    const warmupS = ctx.quick ? 1 : 3;
    const identity = clusterIdentity('login');
    const node = await startBenchNode(ctx, this.name, identity, { AUTHCACHE_BCRYPT_COST: '10' });
    let baseline;
    try {
      const created = await json(`${node.url}/v1/roles/${USER}`, { method: 'PUT', headers: admin(identity), body: { password: PASSWORD, login: true } });
      if (created.status !== 201 && created.status !== 200) throw new Error(`PUT /v1/roles/${USER}: HTTP ${created.status} ${created.body}`);
      const body = JSON.stringify({ username: USER, password: PASSWORD });
      const first = await json(`${node.url}/v1/login`, { method: 'POST', body });
      const second = await json(`${node.url}/v1/login`, { method: 'POST', body });
      if (first.status !== 200 || second.status !== 200 || second.json?.cached !== true) {
        throw new Error(`the bench user does not log in from the cache: ${first.status} ${first.body} / ${second.status} ${second.body}`);
      }

      baseline = await startBaseline({ user: USER, password: PASSWORD, roles: second.json.roles, node: second.json.node, env: baselineProfiling(ctx, this.name) });
      const bare = await json(`${baseline.url}/v1/login`, { method: 'POST', body });
      if (bare.status !== 200 || Buffer.byteLength(bare.body) !== Buffer.byteLength(second.body)) {
        throw new Error(`baseline answer differs in size: ${bare.status} ${bare.body} vs ${second.body}`);
      }

      const run = (label, url, seconds) => loadWithProgress(ctx, { label, url: `${url}/v1/login`, body, connections: CONNECTIONS, durationS: seconds });
      // Both servers get the same JIT warm-up before their measured run.
      await run('warm-up baseline', baseline.url, warmupS);
      await run('warm-up authcache', node.url, warmupS);
      await profileFromHere(ctx, [baseline]);
      const bareRun = await run('baseline (node:http + HMAC)', baseline.url, durationS);
      ctx.progress.note(`baseline: ${bareRun.requests_per_s} req/s, p50 ${bareRun.phases.main?.p50_ms} ms, p99 ${bareRun.phases.main?.p99_ms} ms`);
      await profileFromHere(ctx, [node]);
      const nodeRun = await run('authcache POST /v1/login', node.url, durationS);
      ctx.progress.note(`authcache: ${nodeRun.requests_per_s} req/s, p50 ${nodeRun.phases.main?.p50_ms} ms, p99 ${nodeRun.phases.main?.p99_ms} ms`);
      assertAllAnswered({ authcache: nodeRun, baseline: bareRun });

      const a = nodeRun.phases.main;
      const b = bareRun.phases.main;
      return {
        figures: [
          figure({
            id: 'cached_login_rps',
            name: 'cached login throughput',
            value: nodeRun.requests_per_s,
            unit: 'req/s',
            baseline: { name: 'node:http + HMAC', value: bareRun.requests_per_s, unit: 'req/s' },
            target: { on: 'ratio', op: '>=', value: 0.6, text: 'ratio ≥ 0.6 (aim 0.8)' },
          }),
          figure({ id: 'cached_login_p50', name: 'cached login p50', value: a.p50_ms, unit: 'ms', baseline: { name: 'node:http + HMAC', value: b.p50_ms, unit: 'ms' } }),
          figure({ id: 'cached_login_p99', name: 'cached login p99', value: a.p99_ms, unit: 'ms', baseline: { name: 'node:http + HMAC', value: b.p99_ms, unit: 'ms' } }),
        ],
        notes: [
          `autocannon in the bench process, ${CONNECTIONS} connections, POST /v1/login of one cached user (bcrypt cost 10), ${durationS} s per server after ${warmupS} s of warm-up each; the baseline is scripts/bench/baseline-server.mjs (node:http, JSON.parse, HMAC-SHA256 + timingSafeEqual, a ${Buffer.byteLength(second.body)}-byte JSON answer of the same size)`,
        ],
        details: {
          connections: CONNECTIONS,
          duration_s: durationS,
          warmup_s: warmupS,
          bcrypt_cost: 10,
          response_bytes: Buffer.byteLength(second.body),
          authcache: nodeRun,
          baseline: bareRun,
        },
      };
    } finally {
      await baseline?.stop();
      await node.stop();
    }
  },
};

function startBaseline({ user, password, roles, node, env }) {
  const script = join(repoRoot, 'scripts', 'bench', 'baseline-server.mjs');
  return startBaselineServer(script, { ...env, BASELINE_USER: user, BASELINE_PASSWORD: password, BASELINE_ROLES: JSON.stringify(roles), BASELINE_NODE: node }, 'baseline server');
}
