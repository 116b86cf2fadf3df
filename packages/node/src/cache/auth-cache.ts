import { hash, randomBytes } from 'node:crypto';
import type { CacheName, LoginCacheName } from '@authcache/protocol';
import { CACHE_NAMES, LOGIN_CACHE_NAMES } from '@authcache/protocol';
import type { Logger } from 'pino';
import { BoundedCache, type CacheStats, type Timed } from './bounded-cache';
import { LoadGuard } from './load-guard';
import type { CacheSettings } from './settings';
import type { ResolvedRoles, RoleStore, StoredCredentials } from '../roles/role-store';
import type { Passwords } from '../roles/passwords';
import { type CredentialsEntry, reloadedCredentials, sameVerifier } from './credentials-entry';
import { type Loader, loadOnce } from './read-through';

export type { CredentialsEntry } from './credentials-entry';

export interface RolesEntry extends Timed, ResolvedRoles {}

export type LoginOutcome =
  | { ok: true; roles: string[]; superuser: boolean; cached: boolean }
  | { ok: false };


/**
 * The credentials and roles caches in front of the role store, with Cassandra's rules:
 * validity, bounded size, optional refresh while serving the old value, optional active update.
 */
export class AuthCache {
  readonly credentials: BoundedCache<CredentialsEntry>;
  readonly roles: BoundedCache<RolesEntry>;
  private readonly loaders: { credentials: Loader<StoredCredentials>; roles: Loader<ResolvedRoles> };
  /** ASCII, so that it goes into the digest as the same bytes it is made of. */
  private readonly verifierKey = `${randomBytes(32).toString('base64')}\0`;
  private settings: Record<CacheName, CacheSettings>;
  private readonly activeTimers = new Map<LoginCacheName, NodeJS.Timeout>();
  private readonly verifying = new Map<string, Promise<boolean>>();

  constructor(
    private readonly store: RoleStore,
    private readonly passwords: Passwords,
    settings: Record<CacheName, CacheSettings>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.settings = settings;
    this.credentials = new BoundedCache({ ttlMs: settings.credentials.ttl_ms, maxEntries: settings.credentials.max_entries, now });
    this.roles = new BoundedCache({ ttlMs: settings.roles.ttl_ms, maxEntries: settings.roles.max_entries, now });
    this.loaders = {
      credentials: { cache: this.credentials, guard: new LoadGuard(), inFlight: new Map(), read: (n) => store.getCredentials(n), merge: reloadedCredentials },
      roles: { cache: this.roles, guard: new LoadGuard(), inFlight: new Map(), read: (n) => store.resolveRoles(n) },
    };
    this.scheduleActiveUpdates();
  }

  /**
   * Checks a login. `trustCache` false (node out of sync) reads the backend and caches nothing.
   * Every rejection spends one bcrypt, so unknown users, wrong passwords and LOGIN=false look alike.
   * A login the caches answer whole (the hot path) returns without a promise.
   */
  login(username: string, password: string, trustCache = true): LoginOutcome | Promise<LoginOutcome> {
    if (!trustCache) return this.loginSlow(username, password, undefined, false);
    const cred = this.credentials.get(username);
    if (cred !== undefined) {
      this.maybeRefresh('credentials', username, cred);
      // canLogin is checked here too, not only by the reload that drops the verifier: an entry
      // may get a verifier and lose its login by other paths (another backend, a merge bug).
      if (cred.verifier !== undefined && cred.canLogin && cred.hash !== undefined && sameVerifier(cred.verifier, this.verifierOf(password))) {
        const roles = this.roles.get(username);
        if (roles !== undefined) {
          this.maybeRefresh('roles', username, roles);
          return { ok: true, roles: roles.roles, superuser: roles.superuser, cached: true };
        }
        return this.rolesSlow(username, false);
      }
    }
    return this.loginSlow(username, password, cred, true);
  }

  private async loginSlow(username: string, password: string, credHit: CredentialsEntry | undefined, trustCache: boolean): Promise<LoginOutcome> {
    const cred = credHit ?? (trustCache ? await this.load('credentials', username) : await this.store.getCredentials(username));
    if (!cred || !cred.canLogin || cred.hash === undefined) return this.refuse(username, password);
    const verifier = this.verifierOf(password);
    const known = (cred as CredentialsEntry).verifier;
    const viaVerifier = known !== undefined && sameVerifier(known, verifier);
    if (!viaVerifier) {
      if (!(await this.verifyShared(username, password, verifier, cred.hash))) return { ok: false };
      // Remember the verifier only on the very entry we checked: an invalidation may have replaced it meanwhile.
      if (trustCache && this.credentials.peek(username) === cred) this.credentials.set(username, { ...(cred as CredentialsEntry), verifier });
    }
    if (!trustCache) {
      const roles = await this.store.resolveRoles(username);
      return roles ? { ok: true, roles: roles.roles, superuser: roles.superuser, cached: false } : { ok: false };
    }
    const rolesHit = this.roles.get(username);
    if (rolesHit === undefined) return this.rolesSlow(username, false);
    this.maybeRefresh('roles', username, rolesHit);
    return { ok: true, roles: rolesHit.roles, superuser: rolesHit.superuser, cached: credHit !== undefined && viaVerifier };
  }

  /** A refusal costs what a wrong password costs: one bcrypt, or the backend's own check (LDAP: search + bind). */
  private refuse(username: string, password: string): Promise<LoginOutcome> {
    const spend = this.store.verifyPassword ? this.store.verifyPassword(username, password) : this.passwords.burn(password);
    return spend.then(
      () => ({ ok: false }),
      () => ({ ok: false }),
    );
  }

  private async rolesSlow(username: string, cached: boolean): Promise<LoginOutcome> {
    const roles = await this.load('roles', username);
    return roles ? { ok: true, roles: roles.roles, superuser: roles.superuser, cached } : { ok: false };
  }

  /**
   * A user's resolved roles through the roles cache, for authorization (permissions/; docs/architecture.md, "Permissions and impersonation"):
   * synchronous on a hit, single-flight and load-guarded on a miss. `trustCache` false (node out
   * of sync) reads the backend and stores nothing.
   */
  rolesOf(username: string, trustCache = true): ResolvedRoles | null | Promise<ResolvedRoles | null> {
    if (!trustCache) return this.store.resolveRoles(username);
    const hit = this.roles.get(username);
    if (hit !== undefined) {
      this.maybeRefresh('roles', username, hit);
      return hit;
    }
    return this.load('roles', username);
  }

  /**
   * SHA-256 of the password under a per-process random key, as a prefix: the digest never leaves
   * the process, so length extension gains nobody anything, and it costs a quarter of an HMAC
   * object (bench: 0.55 µs against 2.3 µs), which is most of a cached login's own CPU.
   */
  private verifierOf(password: string): string {
    return hash('sha256', this.verifierKey + password, 'base64');
  }

  /** Names of caches it does not hold (permissions, impersonation: permissions/) are ignored. */
  invalidateUsers(usernames: readonly string[], caches: readonly CacheName[] = CACHE_NAMES): void {
    for (const c of loginCaches(caches)) {
      const l = this.loaders[c];
      for (const u of usernames) {
        l.cache.delete(u);
        l.guard.invalidate(u);
        l.inFlight.delete(u);
      }
    }
  }

  invalidateAll(caches: readonly CacheName[] = CACHE_NAMES): void {
    for (const c of loginCaches(caches)) {
      const l = this.loaders[c];
      l.cache.clear();
      l.guard.invalidateAll();
      l.inFlight.clear();
    }
  }

  /** New settings keep the entries still valid under them (no flush on a TTL change). */
  configure(settings: Record<CacheName, CacheSettings>): void {
    this.settings = settings;
    for (const c of LOGIN_CACHE_NAMES) this.loaders[c].cache.configure(settings[c].ttl_ms, settings[c].max_entries);
    this.scheduleActiveUpdates();
  }

  currentSettings(): Record<CacheName, CacheSettings> {
    return this.settings;
  }

  stats(): Record<LoginCacheName, CacheStats> {
    return { credentials: this.credentials.snapshot(), roles: this.roles.snapshot() };
  }

  /** Cassandra 4.1's cache warming: stored hashes and resolved roles of the roles that can log in. */
  async warm(): Promise<number> {
    const limit = Math.min(this.settings.credentials.max_entries, this.settings.roles.max_entries);
    if (!this.credentials.enabled && !this.roles.enabled) return 0;
    const tickets = { credentials: this.loaders.credentials.guard.begin(), roles: this.loaders.roles.guard.begin() };
    try {
      const rows = await this.store.loginRoles(limit);
      const loadedAt = this.now();
      const { credentials, roles } = this.loaders;
      let stored = 0;
      // The warm set is a snapshot: a user invalidated while it was read is left out.
      for (const r of rows) {
        const credFresh = credentials.guard.fresh(r.name, tickets.credentials);
        const rolesFresh = roles.guard.fresh(r.name, tickets.roles);
        if (credFresh) this.credentials.set(r.name, { ...r.credentials, loadedAt });
        if (rolesFresh) this.roles.set(r.name, { ...r.roles, loadedAt });
        if (credFresh || rolesFresh) stored++;
      }
      return stored;
    } finally {
      for (const c of LOGIN_CACHE_NAMES) this.loaders[c].guard.end('', tickets[c]);
    }
  }

  close(): void {
    for (const t of this.activeTimers.values()) clearInterval(t);
    this.activeTimers.clear();
    this.credentials.close();
    this.roles.close();
  }

  /** Single-flight backend read; stores the result unless an invalidation overtook it. */
  private load<C extends LoginCacheName>(cacheName: C, name: string): Promise<(C extends 'credentials' ? CredentialsEntry : RolesEntry) | null> {
    return loadOnce(this.loaders[cacheName] as unknown as Loader<StoredCredentials | ResolvedRoles>, name, this.now) as never;
  }

  /**
   * One bcrypt (or backend check) for concurrent checks of the same user, password and hash (a client retrying, or
   * every request of a busy user arriving in the gap after a flush); the verifier is only stored
   * once the first check ends.
   */
  private verifyShared(username: string, password: string, verifier: string, stored: string): Promise<boolean> {
    const key = `${username}\0${stored}\0${verifier}`;
    const pending = this.verifying.get(key);
    if (pending) return pending;
    // A backend that checks passwords itself (LDAP) gets the password instead of bcrypt against a token.
    const check = this.store.verifyPassword ? this.store.verifyPassword(username, password) : this.passwords.verify(password, stored);
    const p = check.finally(() => this.verifying.delete(key));
    this.verifying.set(key, p);
    return p;
  }

  private maybeRefresh(cache: LoginCacheName, name: string, entry: Timed): void {
    const refreshMs = this.settings[cache].refresh_ms;
    if (refreshMs <= 0 || this.now() - entry.loadedAt < refreshMs || this.loaders[cache].inFlight.has(name)) return;
    this.load(cache, name).catch((err: unknown) => this.log.warn({ err, cache }, 'background refresh failed; serving the cached value'));
  }

  private scheduleActiveUpdates(): void {
    for (const c of LOGIN_CACHE_NAMES) {
      const s = this.settings[c];
      const existing = this.activeTimers.get(c);
      if (existing) clearInterval(existing);
      this.activeTimers.delete(c);
      if (!s.enabled || !s.active_update || s.refresh_ms <= 0) continue;
      const t = setInterval(() => void this.reloadAll(c), s.refresh_ms);
      t.unref();
      this.activeTimers.set(c, t);
    }
  }

  /** Active update: reload every held entry, a few at a time, without waiting for an access. */
  private async reloadAll(cache: LoginCacheName): Promise<void> {
    const keys = this.loaders[cache].cache.keys();
    const width = 8;
    for (let i = 0; i < keys.length; i += width) {
      const batch = keys.slice(i, i + width).filter((k) => !this.loaders[cache].inFlight.has(k));
      const results = await Promise.allSettled(batch.map((k) => this.load(cache, k)));
      const failed = results.filter((r) => r.status === 'rejected').length;
      if (failed > 0) this.log.warn({ cache, failed }, 'active update: some reloads failed');
      results.forEach((r, j) => {
        // A role dropped since it was cached: drop the entry too.
        if (r.status === 'fulfilled' && r.value === null) this.loaders[cache].cache.delete(batch[j]!);
      });
    }
  }
}

/** The caches of `caches` this class holds. */
function loginCaches(caches: readonly CacheName[]): readonly LoginCacheName[] {
  // Every flush of all caches passes the default: no new array per update on every node.
  if (caches === CACHE_NAMES) return LOGIN_CACHE_NAMES;
  return caches.filter((c): c is LoginCacheName => (LOGIN_CACHE_NAMES as readonly string[]).includes(c));
}

