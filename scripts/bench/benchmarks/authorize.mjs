// Issue 15 point 6: a cached authorize answers in process in under 2 µs (the permission service
// called from packages/node/dist, beside a bare function doing the same lookups) and over HTTP at
// ≥ 0.8 × the cached login throughput (both on one node, beside a bare node:http handler).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { baselineProfiling, startBaselineServer } from '../lib/baseline-process.mjs';
import { repoRoot } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { json } from '../lib/http.mjs';
import { nsPerCall } from '../lib/in-process.mjs';
import { assertAllAnswered, loadWithProgress } from '../lib/load.mjs';
import { admin, clusterIdentity, profileFromHere, startBenchNode } from '../lib/nodes.mjs';

const CONNECTIONS = 50;
const USER = 'bench_authz';
const PASSWORD = 'correct horse battery staple';
const ROLE = 'bench_readers';
const GRANTED_ON = 'data/ks';
// Two levels below the grant: the check walks up to it, as most real checks on a table do.
const RESOURCE = 'data/ks/orders';
const PERMISSION = 'SELECT';

export default {
  name: 'authorize',
  title: `cached authorize: in process against a bare lookup, and over HTTP (${CONNECTIONS} connections) against cached login and a bare node:http handler`,
  async run(ctx) {
    const inProcess = await measureInProcess(ctx);
    ctx.progress.note(`in process: authorize ${fmtNs(inProcess.authcache.median_ns)}, bare lookup ${fmtNs(inProcess.bare.median_ns)} per call`);
    const http = await measureHttp(ctx, this.name);
    const a = http.authorize.phases.main;
    const l = http.login.phases.main;
    const b = http.bare.phases.main;
    return {
      figures: [
        figure({
          id: 'authorize_in_process',
          name: 'cached authorize in process',
          value: inProcess.authcache.median_ns / 1000,
          unit: 'µs',
          baseline: { name: 'bare Map lookups', value: inProcess.bare.median_ns / 1000, unit: 'µs' },
          target: { on: 'value', op: '<=', value: 2, unit: 'µs', text: '< 2 µs' },
        }),
        figure({
          id: 'authorize_rps',
          name: 'cached authorize throughput vs cached login',
          value: http.authorize.requests_per_s,
          unit: 'req/s',
          baseline: { name: 'cached login, same node', value: http.login.requests_per_s, unit: 'req/s' },
          target: { on: 'ratio', op: '>=', value: 0.8, text: 'ratio ≥ 0.8' },
        }),
        figure({ id: 'authorize_rps_vs_bare', name: 'cached authorize throughput vs bare handler', value: http.authorize.requests_per_s, unit: 'req/s', baseline: { name: 'node:http + lookup', value: http.bare.requests_per_s, unit: 'req/s' } }),
        figure({ id: 'authorize_p50', name: 'cached authorize p50', value: a.p50_ms, unit: 'ms', baseline: { name: 'cached login', value: l.p50_ms, unit: 'ms' } }),
        figure({ id: 'authorize_p99', name: 'cached authorize p99', value: a.p99_ms, unit: 'ms', baseline: { name: 'cached login', value: l.p99_ms, unit: 'ms' } }),
        figure({ id: 'authorize_bare_p50', name: 'bare handler p50', value: b.p50_ms, unit: 'ms' }),
      ],
      notes: [
        `in process: PermissionService.authorize (what POST /v1/authorize calls) from packages/node/dist on a user whose roles and permission table are cached, ${RESOURCE} granted on ${GRANTED_ON} through a role; median of ${inProcess.authcache.rounds} rounds of ${inProcess.authcache.calls.toLocaleString('en-US')} calls; the baseline does the same Map lookups and parent walk in a bare function`,
        `over HTTP: autocannon in the bench process, ${CONNECTIONS} connections, ${http.durationS} s per run after ${http.warmupS} s of warm-up each, against one node: POST /v1/authorize of that check and POST /v1/login of the same user (bcrypt cost 10, cached); the bare handler is scripts/bench/lib/authorize-baseline-server.mjs (node:http, JSON.parse, the same lookups, an answer of the same size)`,
      ],
      details: { in_process: inProcess, connections: CONNECTIONS, duration_s: http.durationS, warmup_s: http.warmupS, authorize: http.authorize, login: http.login, bare: http.bare },
    };
  },
};

function fmtNs(ns) {
  return `${Math.round(ns)} ns`;
}

/** The permission service as a node builds it, with its caches filled, against a bare function. */
async function measureInProcess(ctx) {
  const fromNode = createRequire(join(repoRoot, 'packages', 'node', 'package.json'));
  const { PermissionService } = fromNode(join(repoRoot, 'packages', 'node', 'dist', 'permissions', 'index.js'));
  const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
  const grants = new Map([[ROLE, new Map([[GRANTED_ON, [PERMISSION]]])]]);
  // A roles-cache hit is one immutable object per user, as AuthCache.rolesOf returns it.
  const roles = { roles: [ROLE], superuser: false };
  const service = new PermissionService({
    store: { grantsOf: async (names) => new Map(names.filter((n) => grants.has(n)).map((n) => [n, grants.get(n)])), list: async () => [], grant: unused, revoke: unused },
    roles: (username) => (username === USER ? roles : null),
    holdersOf: async () => [],
    roleExists: async () => true,
    publish: unused,
    trusted: () => true,
    settings: {},
    log: silent,
  });
  try {
    // The first call reads the store and fills the permissions cache; from then on the answer is synchronous.
    const first = await service.authorize(USER, RESOURCE, PERMISSION);
    const hot = service.authorize(USER, RESOURCE, PERMISSION);
    if (!first.allowed || hot instanceof Promise || !hot.cached || hot.via !== ROLE) throw new Error(`the cached check is not answered from the cache: ${JSON.stringify(hot)}`);
    const opts = { calls: ctx.quick ? 200_000 : 2_000_000, rounds: ctx.quick ? 5 : 9 };
    return {
      authcache: nsPerCall(() => service.authorize(USER, RESOURCE, PERMISSION).allowed, opts),
      bare: nsPerCall(bareLookup(), opts),
    };
  } finally {
    service.close();
  }
}

/** Cached login and cached authorize on one node, and the bare handler, each after the same warm-up. */
async function measureHttp(ctx, bench) {
  const durationS = ctx.quick ? 2 : 10;
  const warmupS = ctx.quick ? 1 : 3;
  const identity = clusterIdentity('authz');
  const node = await startBenchNode(ctx, bench, identity, { AUTHCACHE_BCRYPT_COST: '10' });
  let baseline;
  try {
    const put = async (path, body) => {
      const r = await json(`${node.url}${path}`, { method: 'PUT', headers: admin(identity), body });
      if (r.status !== 200 && r.status !== 201) throw new Error(`PUT ${path}: HTTP ${r.status} ${r.body}`);
    };
    await put(`/v1/roles/${ROLE}`, {});
    await put(`/v1/roles/${ROLE}/permissions`, { resource: GRANTED_ON, permissions: [PERMISSION] });
    await put(`/v1/roles/${USER}`, { password: PASSWORD, login: true, roles: [ROLE] });
    const loginBody = JSON.stringify({ username: USER, password: PASSWORD });
    const authzBody = JSON.stringify({ username: USER, resource: RESOURCE, permission: PERMISSION });
    for (const [path, body] of [['/v1/login', loginBody], ['/v1/authorize', authzBody]]) {
      await json(`${node.url}${path}`, { method: 'POST', body });
      const again = await json(`${node.url}${path}`, { method: 'POST', body });
      if (again.status !== 200 || again.json?.cached !== true) throw new Error(`POST ${path} is not answered from the cache: ${again.status} ${again.body}`);
    }
    const hot = await json(`${node.url}/v1/authorize`, { method: 'POST', body: authzBody });
    if (hot.json?.allowed !== true || hot.json?.via !== ROLE) throw new Error(`unexpected authorize answer ${hot.body}`);

    baseline = await startBaseline(baselineProfiling(ctx, bench));
    const bareHot = await json(`${baseline.url}/v1/authorize`, { method: 'POST', body: authzBody });
    if (bareHot.status !== 200 || Buffer.byteLength(bareHot.body) !== Buffer.byteLength(hot.body)) throw new Error(`baseline answer differs in size: ${bareHot.body} vs ${hot.body}`);

    const run = (label, url, body, seconds) => loadWithProgress(ctx, { label, url, body, connections: CONNECTIONS, durationS: seconds });
    await run('warm-up baseline', `${baseline.url}/v1/authorize`, authzBody, warmupS);
    await run('warm-up login', `${node.url}/v1/login`, loginBody, warmupS);
    await run('warm-up authorize', `${node.url}/v1/authorize`, authzBody, warmupS);
    await profileFromHere(ctx, [baseline]);
    const bare = await run('bare handler (node:http + lookup)', `${baseline.url}/v1/authorize`, authzBody, durationS);
    ctx.progress.note(`bare handler: ${bare.requests_per_s} req/s, p50 ${bare.phases.main?.p50_ms} ms`);
    const login = await run('authcache POST /v1/login (cached)', `${node.url}/v1/login`, loginBody, durationS);
    ctx.progress.note(`cached login: ${login.requests_per_s} req/s, p50 ${login.phases.main?.p50_ms} ms`);
    // With --profile the node's profile covers the authorize run only.
    await profileFromHere(ctx, [node]);
    const authorize = await run('authcache POST /v1/authorize (cached)', `${node.url}/v1/authorize`, authzBody, durationS);
    ctx.progress.note(`cached authorize: ${authorize.requests_per_s} req/s, p50 ${authorize.phases.main?.p50_ms} ms`);
    assertAllAnswered({ authorize, login, bare });
    return { durationS, warmupS, authorize, login, bare };
  } finally {
    await baseline?.stop();
    await node.stop();
  }
}

function startBaseline(env) {
  const script = join(repoRoot, 'scripts', 'bench', 'lib', 'authorize-baseline-server.mjs');
  return startBaselineServer(script, { ...env, BASELINE_USER: USER, BASELINE_RESOURCE: GRANTED_ON, BASELINE_PERMISSION: PERMISSION, BASELINE_VIA: ROLE }, 'authorize baseline server');
}

function bareLookup() {
  const tables = new Map([[USER, new Map([[GRANTED_ON, new Map([[PERMISSION, ROLE]])]])]]);
  return () => {
    const table = tables.get(USER);
    const p = PERMISSION.toUpperCase();
    for (let r = RESOURCE; ; ) {
      const via = table.get(r)?.get(p);
      if (via !== undefined) return { allowed: true, cached: true, via }.allowed;
      const i = r.lastIndexOf('/');
      if (i <= 0) return false;
      r = r.slice(0, i);
    }
  };
}

function unused() {
  throw new Error('the bench makes no write');
}
