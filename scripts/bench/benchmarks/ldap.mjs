import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot, testkit } from '../lib/deps.mjs';
import { figure } from '../lib/figures.mjs';
import { exchange, keepAliveAgent } from '../lib/http.mjs';
import { scrape } from '../lib/metrics.mjs';
import { startLoad } from '../lib/load.mjs';
import { clusterIdentity, profileFromHere, startBenchCluster, startBenchNode } from '../lib/nodes.mjs';
import { userNames } from '../lib/roles.mjs';
import { latencyHistogram, recordMs, summarize } from '../lib/stats.mjs';
import { startTrickle } from '../lib/trickle.mjs';
import { pause } from '../lib/wait.mjs';

// The client the node uses, from the package that declares it (like pg in postgres.mjs).
const { Client } = createRequire(join(repoRoot, 'packages', 'node', 'package.json'))('ldapts');

/** Short, so that a bounded number of changes fits in the run; the delay it implies is stated in every figure. */
const POLL_MS = 250;
/** The README's guarantee: POLL_MS + AUTHCACHE_MAX_STALENESS_MS (default 5000). */
const BOUND_MS = POLL_MS + 5000;
/** Past the bound and some: a change not refused by then is a failure of the run, not a figure. */
const GIVE_UP_MS = BOUND_MS + 5000;
/** Added each way by the delaying proxy in the "slow" phase: an uncached login (4 LDAP round trips) then takes ~1 s. */
const SLOW_MS = 100;
const GROUP = 'bench_ldap';
const pw = (uid) => `${uid}-pw`;

/**
 * AUTHCACHE_BACKEND=ldap against a real slapd (testkit) and real nodes (issue 14.8 and 14.5):
 * (a) 3 nodes: uncached login (search + bind + group searches through the node) vs cached, beside a
 *     bare ldapts bind round trip from this process over one open connection (LDAP's own bind);
 * (b) 3 nodes: ldappasswd of a password / ldapmodify removing a group member -> refused (resp. the
 *     role gone) on every node, AUTHCACHE_LDAP_POLL_MS=250;
 * (c) 1 node reaching slapd through a delaying TCP proxy: cached-login throughput while LDAP is
 *     normal, slow (+SLOW_MS each way) and hung (slapd SIGSTOPped), with uncached logins queuing on
 *     the LDAP pool meanwhile. Cached logins never touch LDAP, so the ratios should be ~1.
 */
export default {
  name: 'ldap',
  title: `LDAP backend (slapd): uncached / cached login against a bare LDAP bind, directory change -> refused on 3 nodes (poll ${POLL_MS} ms), cached logins while LDAP is slow or hung`,
  async run(ctx) {
    const logins = ctx.quick ? 60 : 200;
    const changes = ctx.quick ? 20 : 100;
    const phaseS = ctx.quick ? 1 : 2;
    const roundCount = ctx.quick ? 3 : 6;
    // Uncached logins per second alongside each load phase: while LDAP is slow they keep the pool's
    // connections busy (~1 s each), while it is hung they wait out the timeout.
    const trickleRate = 3;
    const tricklePerPhase = trickleRate * phaseS;

    ctx.progress.update('starting slapd');
    const ldap = await testkit.startSlapd({ preferOwn: true });
    const agent = keepAliveAgent(8);
    let cluster;
    let single;
    let proxy;
    const bare = new Client({ url: ldap.url, timeout: 5000, connectTimeout: 5000 });
    try {
      const loginUsers = userNames('ldap_login_', logins);
      const pwUsers = userNames('ldap_pw_', Math.ceil(changes / 2));
      const groupUsers = userNames('ldap_grp_', Math.floor(changes / 2));
      const trickle = userNames('ldap_slow_', (1 + 3 * roundCount) * tricklePerPhase);
      const hot = 'ldap_hot';
      // slapd's default size limit (500, the testkit's too) makes a full read of more users fail with
      // sizeLimitExceeded, and the change poller then never takes its first snapshot.
      const total = loginUsers.length + pwUsers.length + groupUsers.length + trickle.length + 1 + testkit.LDAP_SEED_USERS.length;
      if (total >= 500) throw new Error(`${total} users: over slapd's default size limit of 500`);
      ctx.progress.update(`adding ${loginUsers.length + pwUsers.length + groupUsers.length + trickle.length + 1} users to slapd`);
      // hot stays in the group: groupOfNames needs a member when the last change user leaves it.
      await addUsers(ldap, [...loginUsers, ...pwUsers, ...groupUsers, ...trickle, hot], [...groupUsers, hot]);

      // ---- (a) and (b): 3 nodes straight to slapd ----
      cluster = await startBenchCluster(ctx, this.name, 3, { ...ldap.env, AUTHCACHE_LDAP_POLL_MS: String(POLL_MS) }, (n) => ctx.progress.update(`started ${n}/3 nodes`));
      const urls = cluster.nodes.map((n) => n.url);
      const login = (url, username, password = pw(username)) => exchange(`${url}/v1/login`, { method: 'POST', body: { username, password }, agent });
      const ok = async (url, username, wantCached) => {
        const r = await login(url, username);
        const body = r.status === 200 ? JSON.parse(r.body) : undefined;
        if (r.status !== 200 || body.cached !== wantCached) throw new Error(`login ${username} on ${url}: HTTP ${r.status} ${r.body} (wanted cached=${wantCached})`);
        return { ms: r.ms, body };
      };

      await profileFromHere(ctx, cluster.nodes);
      const cold = latencyHistogram();
      const cached = latencyHistogram();
      for (const [i, name] of loginUsers.entries()) {
        recordMs(cold, (await ok(urls[i % 3], name, false)).ms);
        recordMs(cached, (await ok(urls[i % 3], name, true)).ms);
        if (i % 25 === 0) ctx.progress.update(`logins ${i}/${logins}`);
      }

      // The baseline: what LDAP itself costs per bind, over a connection already open (as the node's pool has).
      const bind = latencyHistogram();
      const searchBind = latencyHistogram();
      await bare.bind(testkit.userDn(loginUsers[0]), pw(loginUsers[0]));
      for (const name of loginUsers) {
        const t0 = performance.now();
        await bare.bind(testkit.userDn(name), pw(name));
        recordMs(bind, performance.now() - t0);
      }
      // Context: the first two steps of an uncached login done bare (service search, then the user's bind).
      for (const name of loginUsers) {
        const t0 = performance.now();
        await bare.bind(testkit.LDAP_SERVICE_DN, testkit.LDAP_SERVICE_PASSWORD);
        const { searchEntries } = await bare.search(testkit.LDAP_USER_BASE, { scope: 'sub', filter: `(uid=${name})`, attributes: ['uid'] });
        await bare.bind(searchEntries[0].dn, pw(name));
        recordMs(searchBind, performance.now() - t0);
      }

      const pwChange = latencyHistogram();
      const groupChange = latencyHistogram();
      // Interleaved, so both kinds meet the same machine state.
      const kinds = pwUsers.flatMap((u, i) => [['password', u], ...(groupUsers[i] ? [['group', groupUsers[i]]] : [])]);
      for (const [i, [kind, name]] of kinds.entries()) {
        for (const u of urls) {
          await login(u, name);
          const { body } = await ok(u, name, true);
          if (kind === 'group' && !body.roles.includes(GROUP)) throw new Error(`${name} lacks ${GROUP} before the change: ${JSON.stringify(body)}`);
        }
        const done =
          kind === 'password'
            ? async (u) => (await login(u, name)).status === 401
            : async (u) => {
                const r = await login(u, name);
                return r.status === 200 && !JSON.parse(r.body).roles.includes(GROUP);
              };
        // At a random point of the poll cycle: back to back, each change would come just after the
        // poll that saw the last one, and every delay would read as a whole interval.
        await pause(Math.random() * POLL_MS);
        const t0 = performance.now();
        if (kind === 'password') await ldap.passwd(name, `${pw(name)}-new`);
        else await ldap.modify(`dn: ${testkit.groupDn(GROUP)}\nchangetype: modify\ndelete: member\nmember: ${testkit.userDn(name)}\n`);
        const ms = await untilEverywhere(urls, done, t0, `${kind} change of ${name}`);
        recordMs(kind === 'password' ? pwChange : groupChange, ms);
        if (i % 5 === 0) ctx.progress.update(`directory changes ${i}/${kinds.length}`);
      }
      await cluster.stop();
      cluster = undefined;

      // ---- (c): 1 node behind a proxy that can slow LDAP down ----
      proxy = await testkit.startTcpProxy({ targetPort: ldap.port });
      const identity = clusterIdentity(this.name);
      single = await startBenchNode(ctx, this.name, identity, {
        ...ldap.env,
        AUTHCACHE_LDAP_URL: `ldap://127.0.0.1:${proxy.port}`,
        AUTHCACHE_LDAP_POLL_MS: String(POLL_MS),
        AUTHCACHE_LDAP_TIMEOUT_MS: '2000',
      });
      await login(single.url, hot);
      await ok(single.url, hot, true);
      const body = JSON.stringify({ username: hot, password: pw(hot) });
      let next = 0;
      const rounds = [];
      const phase = async (label) => {
        const before = await scrape(single.url, agent);
        const uncached = startTrickle(`${single.url}/v1/login`, trickle.slice(next, (next += tricklePerPhase)).map((u) => ({ username: u, password: pw(u) })), trickleRate);
        const load = startLoad({
          url: `${single.url}/v1/login`,
          body,
          connections: 10,
          durationS: phaseS,
          onTick: ({ responses, elapsedS }) => ctx.progress.update(`${label}: ${responses} cached logins, ${Math.min(100, Math.round((100 * elapsedS) / phaseS))} %`),
        });
        const result = await load.finished;
        const after = await scrape(single.url, agent);
        const alongside = await uncached.stop();
        // CPU the node spent per cached login: what the machine's other load cannot skew (it
        // changes how much CPU the node gets, not what a login costs). Uncached logins count in too.
        result.cpu_us_per_login = ((after.cpuSeconds - before.cpuSeconds) * 1e6) / Math.max(1, result.ok);
        ctx.progress.note(`${label}: cached ${result.requests_per_s} req/s, p99 ${result.phases.main?.p99_ms} ms, ${Math.round(result.cpu_us_per_login)} µs CPU each, non-2xx ${result.non2xx}; uncached alongside ${JSON.stringify(alongside)}`);
        return { cached: result, uncached: alongside };
      };
      await profileFromHere(ctx, [single]);
      await phase('warm-up');
      // Many short rounds of normal, slow and hung back to back, in rotating order: the other load
      // of a busy machine drifts by the second, and phases side by side meet nearly the same drift.
      const orders = [['normal', 'slow', 'hung'], ['slow', 'hung', 'normal'], ['hung', 'normal', 'slow']];
      for (let r = 1; r <= roundCount; r++) {
        const round = {};
        for (const kind of orders[r % 3]) {
          if (kind === 'slow') proxy.setDelay(SLOW_MS);
          if (kind === 'hung') ldap.pause();
          try {
            round[kind] = await phase(`round ${r}/${roundCount} ${kind}`);
          } finally {
            proxy.setDelay(0);
            ldap.resume();
          }
        }
        rounds.push(round);
      }
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
      const merged = (kind) => {
        const rs = rounds.map((r) => r[kind].cached);
        return {
          requests_per_s: median(rs.map((r) => r.requests_per_s)),
          p99_ms: median(rs.map((r) => r.phases.main?.p99_ms ?? NaN)),
          non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
          // each round's figure against the normal phase of the same round, so drift between rounds cancels
          rps_ratio: median(rounds.map((r) => r[kind].cached.requests_per_s / r.normal.cached.requests_per_s)),
          p99_ratio: median(rounds.map((r) => (r[kind].cached.phases.main?.p99_ms ?? NaN) / (r.normal.cached.phases.main?.p99_ms ?? NaN))),
          cpu_us: median(rs.map((r) => r.cpu_us_per_login)),
          cpu_ratio: median(rounds.map((r) => r[kind].cached.cpu_us_per_login / r.normal.cached.cpu_us_per_login)),
        };
      };
      const normal = merged('normal');
      const slow = merged('slow');
      const hung = merged('hung');

      const l0 = summarize(cold);
      const l1 = summarize(cached);
      const b = summarize(bind);
      const sb = summarize(searchBind);
      const p = summarize(pwChange);
      const g = summarize(groupChange);
      const bindBase = (what) => ({ name: 'bare ldapts bind', value: b[what], unit: 'ms' });
      const pollBase = { name: 'AUTHCACHE_LDAP_POLL_MS', value: POLL_MS, unit: 'ms' };
      const rps = (r) => r.requests_per_s;
      const p99 = (r) => r.p99_ms;
      const normalBase = (v, unit) => ({ name: 'the same, LDAP normal', value: v, unit });
      ctx.progress.note(
        `login uncached p50 ${l0.p50_ms} ms, cached p50 ${l1.p50_ms} ms, bare bind p50 ${b.p50_ms} ms; password change p50 ${p.p50_ms} / p99 ${p.p99_ms} ms, group change p50 ${g.p50_ms} / p99 ${g.p99_ms} ms (poll ${POLL_MS} ms); cached req/s normal ${rps(normal)}, slow ${rps(slow)}, hung ${rps(hung)}`,
      );
      const bound = { on: 'value', op: '<=', value: BOUND_MS, unit: 'ms', text: `≤ ${BOUND_MS} ms (poll + max staleness)` };
      return {
        figures: [
          figure({ id: 'ldap_login_uncached_p50', name: 'uncached login p50 (search + bind + groups, through the node)', value: l0.p50_ms, unit: 'ms', baseline: bindBase('p50_ms') }),
          figure({ id: 'ldap_login_uncached_p99', name: 'uncached login p99', value: l0.p99_ms, unit: 'ms', baseline: bindBase('p99_ms') }),
          figure({ id: 'ldap_login_cached_p50', name: 'cached login p50 (no LDAP round trip)', value: l1.p50_ms, unit: 'ms', baseline: bindBase('p50_ms') }),
          figure({ id: 'ldap_password_change_p50', name: `ldappasswd -> old password refused on 3 nodes p50 (poll ${POLL_MS} ms)`, value: p.p50_ms, unit: 'ms', baseline: pollBase }),
          figure({ id: 'ldap_password_change_p99', name: `ldappasswd -> old password refused on 3 nodes p99 (poll ${POLL_MS} ms)`, value: p.p99_ms, unit: 'ms', baseline: pollBase, target: bound }),
          figure({ id: 'ldap_group_change_p50', name: `member removed -> role gone on 3 nodes p50 (poll ${POLL_MS} ms)`, value: g.p50_ms, unit: 'ms', baseline: pollBase }),
          figure({ id: 'ldap_group_change_p99', name: `member removed -> role gone on 3 nodes p99 (poll ${POLL_MS} ms)`, value: g.p99_ms, unit: 'ms', baseline: pollBase, target: bound }),
          figure({ id: 'ldap_slow_cached_rps', name: `cached logins while LDAP is slow (+${SLOW_MS} ms each way)`, value: rps(slow), unit: 'req/s', baseline: normalBase(rps(normal), 'req/s'), ratio: slow.rps_ratio, target: { on: 'ratio', op: '>=', value: 0.8, text: 'ratio ≥ 0.8 (aim 1)' } }),
          figure({ id: 'ldap_hung_cached_rps', name: 'cached logins while slapd is SIGSTOPped', value: rps(hung), unit: 'req/s', baseline: normalBase(rps(normal), 'req/s'), ratio: hung.rps_ratio, target: { on: 'ratio', op: '>=', value: 0.8, text: 'ratio ≥ 0.8 (aim 1)' } }),
          figure({ id: 'ldap_slow_cached_cpu', name: 'node CPU per cached login while LDAP is slow', value: slow.cpu_us, unit: 'µs', baseline: normalBase(normal.cpu_us, 'µs'), ratio: slow.cpu_ratio, target: { on: 'ratio', op: '<=', value: 1.2, text: 'ratio ≤ 1.2 (aim 1)' } }),
          figure({ id: 'ldap_hung_cached_cpu', name: 'node CPU per cached login while slapd is SIGSTOPped', value: hung.cpu_us, unit: 'µs', baseline: normalBase(normal.cpu_us, 'µs'), ratio: hung.cpu_ratio, target: { on: 'ratio', op: '<=', value: 1.2, text: 'ratio ≤ 1.2 (aim 1)' } }),
          figure({ id: 'ldap_slow_cached_p99', name: 'cached login p99 while LDAP is slow', value: p99(slow), unit: 'ms', baseline: normalBase(p99(normal), 'ms'), ratio: slow.p99_ratio }),
          figure({ id: 'ldap_hung_cached_p99', name: 'cached login p99 while slapd is SIGSTOPped', value: p99(hung), unit: 'ms', baseline: normalBase(p99(normal), 'ms'), ratio: hung.p99_ratio }),
        ],
        notes: [
          `${logins} users, first (uncached) and second (cached) login each, sequential, spread over 3 nodes (poll ${POLL_MS} ms); baseline: the same users' binds from the bench over one open ldapts connection (search as the service account + bind: p50 ${sb.p50_ms} ms)`,
          `${pwUsers.length} ldappasswd and ${groupUsers.length} ldapmodify (delete: member) runs, interleaved, each on a user warmed on all 3 nodes and started at a random point of the poll cycle; measured from before the command is spawned until the last node refuses the old password (or answers without the group), nodes polled back to back over keep-alive HTTP (an upper bound); AUTHCACHE_LDAP_POLL_MS=${POLL_MS}`,
          `one node reaching slapd through a TCP proxy (AUTHCACHE_LDAP_TIMEOUT_MS=2000); ${roundCount} rounds of a normal, a slow and a hung phase in rotating order, each ${phaseS} s of autocannon (10 connections) on one cached user while ${trickleRate}/s uncached logins of new users go to the same node; values: the median round's, ratios: the median of each round's phase against that round's normal phase (drift between rounds cancels); node CPU per cached login from its /metrics (process_cpu_seconds_total) over the phase, the figure a busy machine skews least; slow: +${SLOW_MS} ms each way in the proxy; hung: slapd SIGSTOPped (uncached logins then 503 after the timeout)`,
        ],
        details: { logins, changes, poll_ms: POLL_MS, login_uncached: l0, login_cached: l1, bare_bind: b, bare_search_bind: sb, password_change: p, group_change: g, cached_while: { normal, slow, hung }, rounds },
      };
    } finally {
      agent.destroy();
      await bare.unbind().catch(() => undefined);
      await cluster?.stop();
      await single?.stop();
      await proxy?.close();
      await ldap.stop();
    }
  },
};

/** Users with password `<uid>-pw` (plain userPassword binds on slapd), the `members` also in group GROUP. */
async function addUsers(ldap, uids, members) {
  const chunk = 200;
  for (let i = 0; i < uids.length; i += chunk) {
    const ldif = uids
      .slice(i, i + chunk)
      .map((u) => `dn: ${testkit.userDn(u)}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: ${u}\ncn: ${u}\nsn: ${u}\nuserPassword: ${pw(u)}\n`)
      .join('\n');
    await ldap.modify(ldif);
  }
  await ldap.modify(`dn: ${testkit.groupDn(GROUP)}\nchangetype: add\nobjectClass: groupOfNames\ncn: ${GROUP}\n${members.map((m) => `member: ${testkit.userDn(m)}`).join('\n')}\n`);
}

/** Polls every node back to back until `done` holds on all; the ms since t0 when the last one did. */
async function untilEverywhere(urls, done, t0, what) {
  const left = new Set(urls);
  let last = 0;
  while (left.size > 0) {
    if (performance.now() - t0 > GIVE_UP_MS) throw new Error(`${what}: not seen on ${[...left].join(', ')} ${GIVE_UP_MS} ms after it`);
    await Promise.all(
      [...left].map(async (u) => {
        if (await done(u)) {
          left.delete(u);
          last = performance.now() - t0;
        }
      }),
    );
  }
  return last;
}
