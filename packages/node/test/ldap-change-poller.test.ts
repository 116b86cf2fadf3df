/**
 * The change poller's rules on a scripted directory (no slapd): one-second modifyTimestamp with
 * and without a finer version attribute, the lease, a failed publish, group holders through nesting.
 */
import type { Entry } from 'ldapts';
import type { Redis } from 'ioredis';
import type { Lease } from '../src/lease';
import { ChangePoller } from '../src/roles/ldap/change-poller';
import { loadLdapConfig } from '../src/roles/ldap/config';
import type { Directory } from '../src/roles/ldap/directory';
import { formatGeneralizedTime, parseGeneralizedTime } from '../src/roles/ldap/filters';
import { silentLog } from './fakes';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

class FakeDirectory {
  entries = new Map<string, { attrs: Record<string, string[]>; ts: number; csn?: string }>();
  /** Runs once, as a whole-directory read (no modifyTimestamp filter) starts. */
  beforeWholeRead: (() => void) | undefined;
  put(dn: string, attrs: Record<string, string[]>, ts: number, csn?: string) {
    this.entries.set(dn, { attrs, ts, csn });
  }
  async search(base: string, opts: { filter?: string }): Promise<Entry[]> {
    const f = opts.filter ?? '';
    const since = /modifyTimestamp>=(\d{14}Z)/.exec(f)?.[1];
    const sinceMs = since === undefined ? -Infinity : parseGeneralizedTime(since)!;
    if (since === undefined && this.beforeWholeRead) {
      const hook = this.beforeWholeRead;
      this.beforeWholeRead = undefined;
      hook();
    }
    const wantLocked = f.includes('(locked=yes)');
    const out: Entry[] = [];
    for (const [dn, e] of this.entries) {
      if (!dn.endsWith(base) || e.ts < sinceMs) continue;
      if (wantLocked && e.attrs.locked?.[0] !== 'yes') continue;
      const isUser = 'uid' in e.attrs;
      if (base.startsWith('ou=people') !== isUser) continue;
      out.push({ dn, ...e.attrs, modifyTimestamp: [formatGeneralizedTime(e.ts)], ...(e.csn ? { entryCSN: [e.csn] } : {}) } as Entry);
    }
    return out;
  }
}

function setup(opts: { held?: () => boolean; fail?: () => boolean; rescanMs?: number } = {}) {
  let now = T0 + 10_000;
  const dir = new FakeDirectory();
  const redisData = new Map<string, string>();
  const redis = { get: async (k: string) => redisData.get(k) ?? null, set: async (k: string, v: string) => void redisData.set(k, v) } as unknown as Redis;
  let held = false;
  const lease = {
    tryHold: async () => (held = opts.held ? opts.held() : true),
    get isHeld() {
      return held;
    },
    release: async () => void (held = false),
  } as unknown as Lease;
  const calls: string[][] = [];
  const cfg = loadLdapConfig({
    AUTHCACHE_LDAP_URL: 'ldap://x',
    AUTHCACHE_LDAP_USER_BASE: 'ou=people,dc=x',
    AUTHCACHE_LDAP_GROUP_BASE: 'ou=groups,dc=x',
    AUTHCACHE_LDAP_DISABLED_FILTER: '(locked=yes)',
    AUTHCACHE_LDAP_RESCAN_MS: String(opts.rescanMs ?? 0),
  });
  const poller = new ChangePoller({
    cfg,
    dir: dir as unknown as Directory,
    lease,
    redis,
    markKey: 'mark',
    log: silentLog,
    now: () => now,
    invalidate: async (users) => {
      if (opts.fail?.()) throw new Error('bus down');
      calls.push(users);
    },
  });
  const user = (uid: string, ts: number, csn?: string, extra: Record<string, string[]> = {}) => dir.put(`uid=${uid},ou=people,dc=x`, { uid: [uid], ...extra }, ts, csn);
  const group = (cn: string, members: string[], ts: number, csn?: string) => dir.put(`cn=${cn},ou=groups,dc=x`, { cn: [cn], member: members }, ts, csn);
  return { dir, poller, calls, redisData, user, group, advance: (ms: number) => (now += ms) };
}

const u = (uid: string) => `uid=${uid},ou=people,dc=x`;
const g = (cn: string) => `cn=${cn},ou=groups,dc=x`;

test('the first round only snapshots; changes after it are published once each', async () => {
  const s = setup();
  s.user('alice', T0);
  s.group('devs', [u('alice')], T0);
  await s.poller.tick();
  expect(s.calls).toEqual([]);
  s.user('alice', T0 + 20_000, 'csn-2');
  await s.poller.tick();
  await s.poller.tick();
  expect(s.calls).toEqual([['alice']]);
  expect(s.redisData.get('mark')).toBe(formatGeneralizedTime(T0 + 20_000));
});

test('without a version attribute, an entry of the mark second is reported again until seen 2 s after it', async () => {
  const s = setup();
  s.user('bob', T0);
  await s.poller.tick();
  const ts = T0 + 10_000; // "now" on the fake clock: the change is in the current second
  s.user('bob', ts);
  await s.poller.tick(); // seen at ts+0: reported
  s.advance(1000);
  await s.poller.tick(); // seen at ts+1s: a second change could still hide in that second: reported again
  s.advance(1500);
  await s.poller.tick(); // seen at ts+2.5s: reported (last report was before ts+2s), and now known settled
  await s.poller.tick(); // skipped
  expect(s.calls).toEqual([['bob'], ['bob'], ['bob']]);
});

test('with entryCSN, a re-read entry of the same version is skipped; a new version in the same second is not', async () => {
  const s = setup();
  s.user('bob', T0);
  await s.poller.tick();
  s.user('bob', T0 + 10_000, 'csn-a');
  await s.poller.tick();
  await s.poller.tick();
  s.user('bob', T0 + 10_000, 'csn-b'); // same second, second change
  await s.poller.tick();
  expect(s.calls).toEqual([['bob'], ['bob']]);
});

test('a changed group: its holders before and after, through nested groups; one invalidation', async () => {
  const s = setup();
  for (const x of ['alice', 'bob', 'carol']) s.user(x, T0);
  s.group('devs', [u('alice'), u('bob')], T0);
  s.group('eng', [g('devs')], T0);
  s.group('all', [g('eng'), u('carol')], T0);
  await s.poller.tick();
  s.group('devs', [u('alice')], T0 + 20_000, 'c1'); // bob removed
  await s.poller.tick();
  expect(s.calls).toEqual([['alice', 'bob']]);
  s.group('all', [g('eng'), u('carol')], T0 + 30_000, 'c2'); // touched: everyone holding "all"
  await s.poller.tick();
  expect(s.calls[1]).toEqual(['alice', 'carol']);
});

test("a change made between a rescan's poll and its read is published once; a password change in that gap still is", async () => {
  const s = setup({ rescanMs: 1000 });
  for (const x of ['alice', 'bob', 'dave']) s.user(x, T0, `${x}-1`);
  s.group('devs', [u('alice'), u('dave')], T0, 'devs-1');
  await s.poller.tick(); // the snapshot
  s.advance(1000);
  s.dir.beforeWholeRead = () => {
    s.group('devs', [u('dave')], T0 + 20_000, 'devs-2'); // alice removed: the rescan's comparison finds it
    s.user('bob', T0 + 20_000, 'bob-2', { userPassword: ['new'] }); // nothing the comparison looks at
  };
  await s.poller.tick(); // the rescan: its poll finds nothing, its read finds the group changed
  expect(s.calls).toEqual([['alice', 'dave']]);
  await s.poller.tick(); // the poll returns both entries: devs was published after it changed, bob was not
  await s.poller.tick();
  expect(s.calls).toEqual([['alice', 'dave'], ['bob']]);
});

test('a failed publish stays pending and goes out (once, merged) with the next round', async () => {
  let failing = true;
  const s = setup({ fail: () => failing });
  s.user('a', T0);
  s.user('b', T0);
  await s.poller.tick();
  s.user('a', T0 + 20_000, 'x1');
  await s.poller.tick();
  // the saved mark stays before the unpublished change: a node taking over would find it again
  expect(s.redisData.get('mark')).toBe(formatGeneralizedTime(T0));
  s.user('b', T0 + 21_000, 'x2');
  failing = false;
  await s.poller.tick();
  expect(s.calls).toEqual([['a', 'b']]);
  expect(s.redisData.get('mark')).toBe(formatGeneralizedTime(T0 + 21_000));
});

test('without the lease nothing is read or published; a new holder resumes from the saved mark', async () => {
  let holds = false;
  const s = setup({ held: () => holds });
  s.user('a', T0);
  await s.poller.tick();
  s.user('a', T0 + 20_000, 'v');
  await s.poller.tick();
  expect(s.calls).toEqual([]);
  s.redisData.set('mark', formatGeneralizedTime(T0 + 15_000)); // where the previous holder stopped
  holds = true;
  await s.poller.tick(); // snapshot, then catch up from the mark
  expect(s.calls).toEqual([['a']]);
});

test('locking a user (the disabled filter starts matching) is a change of that user', async () => {
  const s = setup();
  s.user('a', T0);
  await s.poller.tick();
  s.user('a', T0 + 20_000, 'l1', { locked: ['yes'] });
  await s.poller.tick();
  expect(s.calls).toEqual([['a']]);
});

test('rounds failing for two poll intervals make the poller report failing (what /health shows); one success clears it', async () => {
  const s = setup();
  s.user('alice', T0);
  await s.poller.tick();
  const realSearch = s.dir.search.bind(s.dir);
  // What OpenLDAP answers when the read is bigger than the service account's size limit.
  s.dir.search = async () => {
    throw Object.assign(new Error('Size Limit Exceeded'), { code: 4 });
  };
  await s.poller.tick();
  expect(s.poller.failing()).toBe(false); // one failed round is a blip
  s.advance(2 * 5000);
  await s.poller.tick();
  expect(s.poller.failing()).toBe(true);
  s.dir.search = realSearch;
  s.advance(5000);
  await s.poller.tick();
  expect(s.poller.failing()).toBe(false);
});

test('a node that loses the lease while failing is no longer failing: the new holder polls', async () => {
  let holds = true;
  const s = setup({ held: () => holds });
  await s.poller.tick();
  s.dir.search = async () => {
    throw new Error('down');
  };
  await s.poller.tick();
  s.advance(20_000);
  await s.poller.tick();
  expect(s.poller.failing()).toBe(true);
  holds = false;
  await s.poller.tick();
  expect(s.poller.failing()).toBe(false);
});
