import { figure } from '../lib/figures.mjs';
import { exchange, json, keepAliveAgent } from '../lib/http.mjs';
import { scrape } from '../lib/metrics.mjs';
import { clusterIdentity, profileFromHere, startBenchNode } from '../lib/nodes.mjs';
import { bcryptHash, userNames, writeRoles } from '../lib/roles.mjs';
import { startPacedLoad } from '../lib/paced.mjs';
import { percentile, round } from '../lib/stats.mjs';
import { pause } from '../lib/wait.mjs';

const STORM_USERS = 200;
const COST = 10;
// The cached load is an open loop at a steady rate well below saturation: a saturating closed loop
// (autocannon's way) would measure the queue it builds itself, and would hide a stall behind the few
// requests in flight, instead of showing whether the storm delays a cached login.
const RATE = 1000;
const PASSWORD = 'storm password';

export default {
  name: 'cold-storm',
  title: `${STORM_USERS} concurrent first logins (bcrypt cost ${COST}) while cached logins run at ${RATE} req/s`,
  async run(ctx) {
    const beforeS = ctx.quick ? 2 : 5;
    const identity = clusterIdentity('storm');
    ctx.progress.update(`hashing the storm password at cost ${COST}`);
    // One hash for everyone: each user's first login still costs a full bcrypt check, and hashing 200
    // times would only slow the setup.
    const hash = await bcryptHash(PASSWORD, COST);
    const stormUsers = userNames('storm_', STORM_USERS);
    await writeRoles(ctx.redis.url, identity.cluster, ['cached_user', ...stormUsers], hash);
    const node = await startBenchNode(ctx, this.name, identity, { AUTHCACHE_BCRYPT_COST: String(COST), AUTHCACHE_CACHE_WARMING: 'false' });
    const agent = keepAliveAgent(4);
    let load;
    let stopProgress = () => undefined;
    try {
      const body = JSON.stringify({ username: 'cached_user', password: PASSWORD });
      await json(`${node.url}/v1/login`, { method: 'POST', body });
      const check = await json(`${node.url}/v1/login`, { method: 'POST', body });
      if (check.json?.cached !== true) throw new Error(`cached_user is not served from the cache: ${check.status} ${check.body}`);

      let phase = 'before';
      // prom-client's delay histogram restarts at every scrape, so one scrape at each phase boundary
      // gives the p99 over exactly that phase (scraping more often would turn each window's p99 into its max).
      await profileFromHere(ctx, [node]);
      await scrape(node.url, agent);
      load = startPacedLoad({ url: `${node.url}/v1/login`, body, rate: RATE, phaseOf: () => phase });
      let stormDone = 0;
      stopProgress = ctx.progress.live(() => (phase === 'before' ? `cached load, no storm: ${load.stats.answered} answers` : `storm: ${stormDone}/${STORM_USERS} first logins answered, cached load ${load.stats.answered} answers`));
      await pause(beforeS * 1000);
      const loopBefore = await scrape(node.url, agent);

      // Storm: all first logins at once, each on its own connection as 200 separate clients would.
      phase = 'storm';
      const stormStartedAt = Date.now();
      const storm = await Promise.all(
        stormUsers.map((username) =>
          exchange(`${node.url}/v1/login`, { method: 'POST', body: { username, password: PASSWORD }, agent: false, timeoutMs: 120_000 }).then((r) => {
            stormDone++;
            return r;
          }),
        ),
      );
      const stormSeconds = (Date.now() - stormStartedAt) / 1000;
      const loopStorm = await scrape(node.url, agent);
      phase = 'after';
      const loadResult = await load.stop();
      load = undefined;
      stopProgress();

      const notOk = storm.filter((r) => r.status !== 200 || !r.body.includes('"cached":false'));
      if (notOk.length) throw new Error(`${notOk.length} storm logins did not succeed cold: e.g. ${notOk[0].status} ${notOk[0].body}`);
      if (loadResult.non2xx || loadResult.errors) throw new Error(`cached load had ${loadResult.non2xx} non-2xx answers and ${loadResult.errors} errors`);
      const before = loadResult.phases.before;
      const during = loadResult.phases.storm;
      if (!before || !during) throw new Error('the cached load recorded no answers before or during the storm');
      const stormLatencies = storm.map((r) => r.ms);

      ctx.progress.note(`storm of ${STORM_USERS} cold logins took ${stormSeconds.toFixed(2)} s; cached p99 ${before.p99_ms} ms before, ${during.p99_ms} ms during`);
      return {
        figures: [
          figure({
            id: 'storm_cached_p99',
            name: 'cached login p99 during the storm',
            value: during.p99_ms,
            unit: 'ms',
            baseline: { name: 'same load, no storm', value: before.p99_ms, unit: 'ms' },
            target: { on: 'value', op: '<=', value: 10, unit: 'ms', text: '≤ 10 ms' },
          }),
          figure({
            id: 'storm_loop_delay_p99',
            name: 'event-loop delay p99 during the storm',
            value: loopStorm.loopP99 * 1000,
            unit: 'ms',
            baseline: { name: 'same load, no storm', value: loopBefore.loopP99 * 1000, unit: 'ms' },
            target: { on: 'value', op: '<=', value: 20, unit: 'ms', text: '≤ 20 ms' },
            note: 'nodejs_eventloop_lag_p99_seconds over the storm (10 ms sampling resolution: an idle loop reads ~10 ms)',
          }),
          figure({
            id: 'storm_duration',
            name: `${STORM_USERS} cold logins, all answered`,
            value: stormSeconds,
            unit: 's',
          }),
        ],
        notes: [
          `cached load: an open loop at a steady ${RATE} req/s on keep-alive connections, each latency counted from when the request was due; event-loop delay is prom-client's nodejs_eventloop_lag_p99_seconds scraped at the start and the end of each phase (10 ms sampling resolution, so an idle loop reads ≈ 10 ms)`,
        ],
        details: {
          bcrypt_cost: COST,
          storm_users: STORM_USERS,
          cached_load: loadResult,
          storm_seconds: round(stormSeconds, 3),
          storm_login_ms: { p50: round(percentile(stormLatencies, 50), 1), p99: round(percentile(stormLatencies, 99), 1), max: round(Math.max(...stormLatencies), 1) },
          loop_delay_ms: {
            before: { p50: round(loopBefore.loopP50 * 1000, 2), p99: round(loopBefore.loopP99 * 1000, 2), max: round(loopBefore.loopMax * 1000, 2) },
            storm: { p50: round(loopStorm.loopP50 * 1000, 2), p99: round(loopStorm.loopP99 * 1000, 2), max: round(loopStorm.loopMax * 1000, 2) },
          },
        },
      };
    } finally {
      stopProgress();
      await load?.stop();
      agent.destroy();
      await node.stop();
    }
  },
};
