import { performance } from 'node:perf_hooks';
import { bcrypt } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { exchange, json, keepAliveAgent, pool } from '../lib/http.mjs';
import { scrape } from '../lib/metrics.mjs';
import { admin, clusterIdentity, profileFromHere, startBenchNode } from '../lib/nodes.mjs';
import { bcryptHash, userNames, writeRoles } from '../lib/roles.mjs';
import { percentile, round } from '../lib/stats.mjs';

const CONCURRENCY = 64;
// Each user asks twice at the same moment, as a client retrying or two tabs would: the two misses
// must share one backend load.
const ASKS_PER_USER = 2;
const COST = 4;
const PASSWORD = 'recovery password';

export default {
  name: 'flush-recovery',
  title: `after a flush all: backend loads per user and time until 99 % of logins are cached again (bcrypt cost ${COST})`,
  async run(ctx) {
    const users = ctx.quick ? 2_000 : 10_000;
    const identity = clusterIdentity('recovery');
    const hash = await bcryptHash(PASSWORD, COST);
    const names = userNames('active_', users);
    await writeRoles(ctx.redis.url, identity.cluster, names, hash, (n) => ctx.progress.update(`writing roles to Redis: ${n}/${users}`));
    const node = await startBenchNode(ctx, this.name, identity, { AUTHCACHE_BCRYPT_COST: String(COST), AUTHCACHE_CACHE_WARMING: 'false' });
    const agent = keepAliveAgent(CONCURRENCY);
    try {
      const login = (username) => exchange(`${node.url}/v1/login`, { method: 'POST', body: { username, password: PASSWORD }, agent, timeoutMs: 60_000 });
      const expectOk = (r, username) => {
        if (r.status !== 200) throw new Error(`login of ${username}: HTTP ${r.status} ${r.body}`);
        return r;
      };

      await pool(names, CONCURRENCY, async (u) => expectOk(await login(u), u), (n) => n % 100 === 0 && ctx.progress.update(`logging every user in once: ${n}/${users}`));
      const primed = await scrape(node.url, agent);
      if (primed.credentials.size !== users) throw new Error(`expected ${users} cached credentials after the first pass, found ${primed.credentials.size}`);

      await profileFromHere(ctx, [node]);
      const flushed = await json(`${node.url}/v1/cache`, { method: 'DELETE', headers: admin(identity), agent });
      if (flushed.status !== 200 || flushed.json?.nodes?.failed !== 0) throw new Error(`DELETE /v1/cache: HTTP ${flushed.status} ${flushed.body}`);
      const before = await scrape(node.url, agent);
      if (before.credentials.size !== 0) throw new Error(`the flush left ${before.credentials.size} credentials cached`);

      // Recovery: every user again, ASKS_PER_USER identical requests side by side, CONCURRENCY in flight.
      const asks = names.flatMap((u) => Array(ASKS_PER_USER).fill(u));
      const doneAt = new Map();
      const t0 = performance.now();
      await pool(asks, CONCURRENCY, async (u) => {
        expectOk(await login(u), u);
        if (!doneAt.has(u)) doneAt.set(u, performance.now() - t0);
      }, (n) => n % 200 === 0 && ctx.progress.update(`recovery after the flush: ${n}/${asks.length} logins`));
      const recoverySeconds = (performance.now() - t0) / 1000;
      const after = await scrape(node.url, agent);
      const loads = { credentials: after.credentials.loads - before.credentials.loads, roles: after.roles.loads - before.roles.loads };

      // Second pass: who is served from the cache now?
      let cached = 0;
      await pool(names, CONCURRENCY, async (u) => {
        const r = expectOk(await login(u), u);
        if (JSON.parse(r.body).cached === true) cached++;
      }, (n) => n % 200 === 0 && ctx.progress.update(`checking the cache: ${n}/${users}`));

      // The physical floor: the bcrypt checks themselves, one per user, same width, in this process.
      const tb = performance.now();
      await pool(names, CONCURRENCY, () => bcrypt.verify(PASSWORD, hash), (n) => n % 200 === 0 && ctx.progress.update(`baseline: bare bcrypt checks ${n}/${users}`));
      const bcryptSeconds = (performance.now() - tb) / 1000;

      const t99 = percentile([...doneAt.values()], 99) / 1000;
      ctx.progress.note(`loads after the flush: credentials ${loads.credentials}, roles ${loads.roles} for ${users} users; 99 % cached again after ${t99.toFixed(2)} s (bare bcrypt: ${bcryptSeconds.toFixed(2)} s)`);
      const exact = { on: 'ratio', op: '==', value: 1, text: `= users (${users})` };
      return {
        figures: [
          figure({ id: 'recovery_loads_credentials', name: 'credentials loads after the flush', value: loads.credentials, unit: 'loads', baseline: { name: 'one load per user', value: users, unit: 'users' }, target: exact }),
          figure({ id: 'recovery_loads_roles', name: 'roles loads after the flush', value: loads.roles, unit: 'loads', baseline: { name: 'one load per user', value: users, unit: 'users' }, target: exact }),
          figure({ id: 'recovery_t99', name: `99 % of ${users.toLocaleString('en-US')} users cached again`, value: t99, unit: 's', baseline: { name: `${users.toLocaleString('en-US')} bare bcrypt checks`, value: bcryptSeconds, unit: 's' } }),
          figure({ id: 'recovery_cached_share', name: 'logins cached on the next pass', value: (100 * cached) / users, unit: '%', target: { on: 'value', op: '>=', value: 99, text: '≥ 99 %' } }),
        ],
        notes: [
          `users have bcrypt cost ${COST} hashes so the run stays bounded; ${ASKS_PER_USER} identical requests per user side by side, ${CONCURRENCY} in flight; loads from the node's authcache_cache metrics`,
        ],
        details: {
          users,
          bcrypt_cost: COST,
          concurrency: CONCURRENCY,
          asks_per_user: ASKS_PER_USER,
          loads,
          recovery_seconds: round(recoverySeconds, 3),
          cached_again_s: { p50: round(percentile([...doneAt.values()], 50) / 1000, 3), p99: round(t99, 3), max: round(Math.max(...doneAt.values()) / 1000, 3) },
          cached_next_pass: cached,
          bare_bcrypt_seconds: round(bcryptSeconds, 3),
        },
      };
    } finally {
      agent.destroy();
      await node.stop();
    }
  },
};
