/**
 * Directory changes to invalidations: one poller (the lease holder among two "nodes") turns each
 * change made with ldapmodify/ldappasswd into ONE invalidation of the affected users, recorded
 * by a fake `invalidate`. Measures the change-to-invalidation delay.
 */
import Redis from 'ioredis';
import { startRedis, startSlapd, userDn, groupDn, waitFor, type LdapHandle, type RedisHandle } from '@authcache/testkit';
import { Lease } from '../packages/node/src/lease';
import { ChangePoller } from '../packages/node/src/roles/ldap/change-poller';
import { loadLdapConfig } from '../packages/node/src/roles/ldap/config';
import { Directory } from '../packages/node/src/roles/ldap/directory';

/** pino's Logger, as the store takes it (pino is a dependency of packages/node only). */
type Logger = ConstructorParameters<typeof Directory>[1];
import { clusterNames } from '@authcache/protocol';
import { pollerKeys } from '../packages/node/src/roles/ldap/index';

function quietLog(): Logger {
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, trace: () => undefined, child: () => log };
  return log as unknown as Logger;
}

const POLL_MS = 250;
/** Deletions leave no modifyTimestamp behind (memberof-refint does not touch it): the rescan finds them. */
const RESCAN_MS = 2000;

interface Call {
  at: number;
  by: string;
  users: string[];
}

describe('LDAP change poller (slapd + Redis)', () => {
  let ldap: LdapHandle;
  let redisHandle: RedisHandle;
  let redis: Redis;
  const calls: Call[] = [];
  const pollers = new Map<string, { poller: ChangePoller; dir: Directory }>();
  const delays: number[] = [];
  const cluster = `ldap-poller-${process.pid}`;

  const make = (name: string, fail?: () => boolean) => {
    const cfg = loadLdapConfig({ ...ldap.env, AUTHCACHE_LDAP_POLL_MS: String(POLL_MS), AUTHCACHE_LDAP_TIMEOUT_MS: '1000', AUTHCACHE_LDAP_RESCAN_MS: String(RESCAN_MS) });
    const log = quietLog();
    const dir = new Directory(cfg, log);
    const keys = pollerKeys(clusterNames(cluster));
    const poller = new ChangePoller({
      cfg,
      dir,
      lease: new Lease(redis, keys.lease, 1500),
      redis,
      markKey: keys.mark,
      log,
      invalidate: async (users) => {
        if (fail?.()) throw new Error('bus down');
        calls.push({ at: Date.now(), by: name, users });
      },
    });
    pollers.set(name, { poller, dir });
    return { poller, dir };
  };

  /** Runs `change`, waits for the invalidation that contains `expectUser`, returns the calls since the change. */
  const change = async (run: () => Promise<void>, expectUser: string, quietMs = 3 * POLL_MS, measure = true): Promise<Call[]> => {
    const from = calls.length;
    const t0 = Date.now(); // before the ldapmodify process starts: an upper bound of the delay
    await run();
    const hit = await waitFor(() => calls.slice(from).find((c) => c.users.includes(expectUser)), { timeoutMs: 5000, intervalMs: 10, message: `no invalidation of ${expectUser}` });
    if (measure) delays.push(hit.at - t0);
    await new Promise((r) => setTimeout(r, quietMs)); // nothing else may follow
    return calls.slice(from);
  };

  beforeAll(async () => {
    [ldap, redisHandle] = await Promise.all([startSlapd({ preferOwn: true }), startRedis()]);
    redis = new Redis(redisHandle.url);
    await redis.del(pollerKeys(clusterNames(cluster)).lease, pollerKeys(clusterNames(cluster)).mark);
    for (const n of ['node-a', 'node-b']) {
      const p = make(n);
      await p.dir.start();
      p.poller.start();
    }
    // both have tried; the holder has its snapshot
    await new Promise((r) => setTimeout(r, 4 * POLL_MS));
  });
  afterAll(async () => {
    for (const { poller, dir } of pollers.values()) {
      await poller.stop();
      await dir.stop();
    }
    redis?.disconnect();
    await ldap?.stop();
    await redisHandle?.stop();
    if (delays.length > 0) {
      const s = [...delays].sort((a, b) => a - b);
      // eslint-disable-next-line no-console
      console.log(`LDAP change -> invalidation (poll ${POLL_MS} ms, n=${s.length}): p50 ${s[Math.floor(s.length / 2)]} ms, max ${s.at(-1)} ms, all ${s.join(',')}`);
    }
  });

  test('a seeded directory gives no invalidation by itself', () => {
    expect(calls).toEqual([]);
  });

  test('a password changed with ldappasswd: ONE invalidation of that user, by one node', async () => {
    const got = await change(() => ldap.passwd('bob', 'bob-2'), 'bob');
    expect(got.map((c) => c.users)).toEqual([['bob']]);
  });

  test('a user removed from a group: ONE invalidation of everyone who held it (the removed user too)', async () => {
    const got = await change(() => ldap.modify(`dn: ${groupDn('developers')}\nchangetype: modify\ndelete: member\nmember: ${userDn('alice')}\n`), 'alice');
    expect(got.map((c) => c.users)).toEqual([['alice', 'dave']]);
  });

  test('a changed nested group: its holders transitively', async () => {
    const got = await change(() => ldap.modify(`dn: ${groupDn('staff')}\nchangetype: modify\nadd: member\nmember: ${userDn('erin')}\n`), 'erin');
    // staff <- engineering <- developers <- dave (alice was removed above), plus erin added directly
    expect(got.map((c) => c.users)).toEqual([['dave', 'erin']]);
  });

  test('a locked account: that user', async () => {
    const got = await change(() => ldap.modify(`dn: ${userDn('carol')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`), 'carol');
    expect(got.map((c) => c.users)).toEqual([['carol']]);
  });

  test('a deleted user (memberof-refint strips it from its groups, leaving no modifyTimestamp): found by the rescan', async () => {
    const t0 = Date.now();
    const got = await change(() => ldap.modify(`dn: ${userDn('bob')}\nchangetype: delete\n`), 'bob', 3 * POLL_MS, false);
    expect(Date.now() - t0).toBeLessThan(RESCAN_MS + 2 * POLL_MS + 3 * POLL_MS + 1000);
    expect(got).toHaveLength(1);
    expect(got[0]!.users).toEqual(expect.arrayContaining(['bob', 'carol']));
  });

  test('exactly one node published everything', () => {
    expect(new Set(calls.map((c) => c.by)).size).toBe(1);
  });

  test('the holder stops: the other node takes over within the lease TTL and resumes from the saved mark', async () => {
    const holder = calls[0]!.by;
    const other = holder === 'node-a' ? 'node-b' : 'node-a';
    const h = pollers.get(holder)!;
    await h.poller.stop();
    // a change made while nobody polls is still found (the mark is in Redis)
    const got = await change(() => ldap.passwd('erin', 'erin-2'), 'erin');
    expect(got.map((c) => c.by)).toEqual(expect.arrayContaining([other]));
    expect(got.flatMap((c) => c.users)).toContain('erin');
  });

  test('a failed publish is retried at the next poll; nothing is lost', async () => {
    let failures = 2;
    const p = make('node-c', () => failures-- > 0);
    // node-c only: stop the current holder
    for (const [n, { poller }] of pollers) if (n !== 'node-c') await poller.stop();
    await p.dir.start();
    p.poller.start();
    await new Promise((r) => setTimeout(r, 2500)); // lease TTL of the stopped one has passed; node-c has its snapshot
    const got = await change(() => ldap.passwd('alice', 'alice-2'), 'alice');
    expect(got.filter((c) => c.by === 'node-c').flatMap((c) => c.users)).toContain('alice');
    expect(failures).toBeLessThan(0);
  });
});
