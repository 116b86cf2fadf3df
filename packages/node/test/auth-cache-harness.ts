/**
 * What the AuthCache suites share: two passwords and their hashes, a fake backend holding a few
 * roles, a spy on bcrypt and a hand-moved clock, fresh for every test (`useAuthCache`).
 */
import { AuthCache, type LoginOutcome } from '../src/cache/auth-cache';
import { Passwords } from '../src/roles/passwords';
import type { CacheSettings } from '../src/cache/settings';
import type { CacheName } from '@authcache/protocol';
import { FakeClock, FakeRoleStore, SpyPasswords, drain, settingsFor, silentLog } from './fakes';

export const OLD = 'correct horse';
export const NEW = 'battery staple';
// Live bindings: assigned by the hooks useAuthCache registers, read by the tests after them.
export let oldHash: string;
export let newHash: string;
export let clock: FakeClock;
export let store: FakeRoleStore;
export let pw: SpyPasswords;
let cache: AuthCache | undefined;

/** Runs queued work until `done()` holds; a bounded loop over the event queue, not a timer. */
export async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await drain();
  if (!done()) throw new Error(`never happened: ${what}`);
}

// The hot path answers without a promise; the tests await every answer alike.
export class AwaitableAuthCache extends AuthCache {
  override login(username: string, password: string, trustCache?: boolean): Promise<LoginOutcome> {
    return Promise.resolve(super.login(username, password, trustCache));
  }
  syncLogin(username: string, password: string) {
    return super.login(username, password);
  }
}

export const open = (s: Record<CacheName, CacheSettings> = settingsFor()) => {
  const c = new AwaitableAuthCache(store, pw, s, silentLog, clock.now);
  cache = c;
  return c;
};

/** Registers the hooks: hashes once, a fresh backend, spy and clock for each test, the cache closed after it. */
export function useAuthCache(): void {
  beforeAll(async () => {
    const p = new Passwords(4);
    [oldHash, newHash] = await Promise.all([p.hash(OLD), p.hash(NEW)]);
  });
  beforeEach(() => {
    clock = new FakeClock();
    store = new FakeRoleStore();
    pw = new SpyPasswords();
    store.put({ name: 'admin', superuser: true, canLogin: false });
    store.put({ name: 'staff', memberOf: ['admin'], canLogin: false });
    store.put({ name: 'alice', hash: oldHash, memberOf: ['staff'] });
    store.put({ name: 'bob', hash: oldHash });
    store.put({ name: 'svc', hash: oldHash, canLogin: false });
    store.put({ name: 'nopass' });
  });
  afterEach(() => {
    cache?.close();
    cache = undefined;
  });
}
