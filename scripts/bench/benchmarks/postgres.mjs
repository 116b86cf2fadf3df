import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis, repoRoot, testkit } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { exchange, keepAliveAgent } from '../lib/http.mjs';
import { profileFromHere, startBenchCluster } from '../lib/nodes.mjs';
import { bcryptHash, userNames } from '../lib/roles.mjs';
import { latencyHistogram, recordMs, summarize } from '../lib/stats.mjs';
import { waitUntil } from '../lib/wait.mjs';

// The driver comes from the package that declares it, like ioredis in deps.mjs.
const pg = createRequire(join(repoRoot, 'packages', 'node', 'package.json'))('pg');
const PASSWORD = 'pw';
const REFUSED_WITHIN_MS = 5000;

/**
 * AUTHCACHE_BACKEND=postgres on 3 nodes (issue 13.9): uncached and cached login, and "a change made
 * in SQL -> refused on every node" — one UPDATE ... SET can_login = false over a psql-like
 * connection, then every node polled back to back until all three answer 401. Baseline: Redis
 * PUBLISH one-way (publisher to subscriber on the bus's Redis), the floor of any invalidation.
 */
export default {
  name: 'postgres',
  title: 'PostgreSQL backend, 3 nodes: uncached / cached login, and SQL change -> refused on every node, against Redis PUBLISH one-way',
  async run(ctx) {
    const changes = ctx.quick ? 50 : 200;
    const logins = ctx.quick ? 100 : 500;
    ctx.progress.update('starting PostgreSQL');
    const db = await testkit.startPostgres({ preferOwn: true });
    const agent = keepAliveAgent(8);
    let cluster;
    const sql = new pg.Client({ connectionString: db.url });
    try {
      cluster = await startBenchCluster(ctx, this.name, 3, { AUTHCACHE_BACKEND: 'postgres', AUTHCACHE_POSTGRES_URL: db.url, AUTHCACHE_BCRYPT_COST: '4' }, (n) => ctx.progress.update(`started ${n}/3 nodes`));
      const urls = cluster.nodes.map((n) => n.url);
      await sql.connect();
      const hash = await bcryptHash(PASSWORD, 4);
      const changed = userNames('pg_change_', changes);
      const uncached = userNames('pg_login_', logins);
      await sql.query('INSERT INTO authcache.roles (role, salted_hash, can_login) SELECT unnest($1::text[]), $2, true', [[...changed, ...uncached], hash]);
      // Their creation is invalidated too: wait until the relay has published it before warming anything.
      await waitUntil(async () => (await sql.query('SELECT 1 FROM authcache.role_changes WHERE published_at IS NULL LIMIT 1')).rowCount === 0, { timeoutMs: 30_000, what: 'the inserted roles published' });
      const login = async (url, username) => (await exchange(`${url}/v1/login`, { method: 'POST', body: { username, password: PASSWORD }, agent })).status;
      const timed = async (url, username) => {
        const r = await exchange(`${url}/v1/login`, { method: 'POST', body: { username, password: PASSWORD }, agent });
        if (r.status !== 200) throw new Error(`login ${username}: HTTP ${r.status} ${r.body}`);
        return r.ms;
      };

      await profileFromHere(ctx, cluster.nodes);
      const cold = latencyHistogram();
      const hot = latencyHistogram();
      for (const [i, name] of uncached.entries()) {
        recordMs(cold, await timed(urls[i % 3], name)); // first login on that node: PostgreSQL + bcrypt
        recordMs(hot, await timed(urls[i % 3], name)); // second: the cache
        if (i % 50 === 0) ctx.progress.update(`logins ${i}/${logins}`);
      }

      const change = latencyHistogram();
      for (const [i, name] of changed.entries()) {
        for (let k = 0; k < 2; k++) for (const u of urls) if ((await login(u, name)) !== 200) throw new Error(`warming ${name} on ${u} failed`);
        const t0 = performance.now();
        await sql.query('UPDATE authcache.roles SET can_login = false WHERE role = $1', [name]);
        const left = new Set(urls);
        let last = 0;
        while (left.size > 0) {
          if (performance.now() - t0 > REFUSED_WITHIN_MS) throw new Error(`${name} still accepted on ${[...left].join(', ')} ${REFUSED_WITHIN_MS} ms after the UPDATE`);
          await Promise.all([...left].map(async (u) => {
            if ((await login(u, name)) === 401) {
              left.delete(u);
              last = performance.now() - t0;
            }
          }));
        }
        recordMs(change, last);
        if (i % 10 === 0) ctx.progress.update(`SQL changes ${i}/${changes}`);
      }

      const oneway = latencyHistogram();
      const sub = new Redis(ctx.redis.url);
      const pub = new Redis(ctx.redis.url);
      try {
        await sub.subscribe('bench-postgres-oneway');
        for (let i = 0; i < changes; i++) {
          const t0 = performance.now();
          await new Promise((resolve) => {
            sub.once('message', resolve);
            void pub.publish('bench-postgres-oneway', String(i));
          });
          recordMs(oneway, performance.now() - t0);
        }
      } finally {
        sub.disconnect();
        pub.disconnect();
      }

      const c = summarize(change);
      const o = summarize(oneway);
      const l0 = summarize(cold);
      const l1 = summarize(hot);
      ctx.progress.note(`SQL change -> refused everywhere p50 ${c.p50_ms} ms, p99 ${c.p99_ms} ms; PUBLISH one-way p50 ${o.p50_ms} ms; login uncached p50 ${l0.p50_ms} ms, cached p50 ${l1.p50_ms} ms`);
      const baseline = (h, what) => ({ name: 'Redis PUBLISH one-way', value: h[what], unit: 'ms' });
      return {
        figures: [
          figure({ id: 'pg_sql_change_p50', name: 'SQL change -> refused on every node p50', value: c.p50_ms, unit: 'ms', baseline: baseline(o, 'p50_ms'), target: { on: 'value', op: '<=', value: 20, unit: 'ms', text: '< 20 ms' } }),
          figure({ id: 'pg_sql_change_p99', name: 'SQL change -> refused on every node p99', value: c.p99_ms, unit: 'ms', baseline: baseline(o, 'p99_ms'), target: { on: 'value', op: '<=', value: 100, unit: 'ms', text: '< 100 ms' } }),
          figure({ id: 'pg_login_uncached_p50', name: 'uncached login on PostgreSQL p50 (bcrypt cost 4)', value: l0.p50_ms, unit: 'ms' }),
          figure({ id: 'pg_login_cached_p50', name: 'cached login on PostgreSQL p50', value: l1.p50_ms, unit: 'ms' }),
        ],
        notes: [
          `${changes} sequential UPDATE roles SET can_login = false over one connection (as psql would), each on a user warmed on all 3 nodes; measured from before the UPDATE until the last node answers 401, nodes polled back to back over keep-alive HTTP (a poll includes one login round trip, so the figure is an upper bound)`,
          `${logins} users created in SQL, first (uncached: PostgreSQL + bcrypt cost 4) and second (cached) login each, sequential, spread over the 3 nodes`,
        ],
        details: { changes, logins, sql_change: c, publish_oneway: o, login_uncached: l0, login_cached: l1 },
      };
    } finally {
      agent.destroy();
      await sql.end().catch(() => undefined);
      await cluster?.stop();
      await db.stop();
    }
  },
};
