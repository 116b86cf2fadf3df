import pino from 'pino';
import type { CacheName } from '@authcache/protocol';
import { Passwords } from '../src/roles/passwords';
import type { Propagation } from '@authcache/protocol';
import { RoleStoreError, type ResolvedRoles, type RoleChange, type RoleDropResult, type RoleRecord, type RoleStore, type RoleWriteResult, type StoredCredentials } from '../src/roles/role-store';
import { grantProblem, holdersOf, needsHolders, resolveGrants } from '../src/roles/grant-graph';
import { applyChange } from '../src/roles/role-rules';
import type { CacheSettings } from '../src/cache/settings';
import { loadLdapConfig, type LdapConfig } from '../src/roles/ldap/config';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-queued callback run (promise chains, thread-pool completions), without a timer. */
export function drain(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A clock the test moves by hand. */
export class FakeClock {
  constructor(public t = 1_000_000) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Counts bcrypt checks against real hashes apart from the dummy ones spent on rejections. */
export class SpyPasswords extends Passwords {
  verifies = 0;
  burns = 0;
  constructor() {
    super(4);
  }
  override async verify(password: string, hash: string): Promise<boolean> {
    this.verifies++;
    return super.verify(password, hash);
  }
  override async burn(password: string): Promise<false> {
    this.burns++;
    const r = await super.burn(password);
    // The parent's burn checks against its dummy hash through `verify`: that is not a real check.
    this.verifies--;
    return r;
  }
}

/**
 * An in-memory RoleStore. Reads are counted; `hold()` makes the next reads of one kind wait for
 * the test to release them, so races can be staged without timers.
 */
export class FakeRoleStore implements RoleStore {
  readonly capabilities = { writable: true };
  readonly roles = new Map<string, RoleRecord>();
  /** The users each write invalidated, in order. */
  readonly invalidations: string[][] = [];
  private seq = 0;
  reads = { credentials: 0, roles: 0, loginRoles: 0 };
  lastLoginRolesLimit: number | undefined;
  /** The next read of the kind fails with this error (once). */
  failNext: { credentials?: Error; roles?: Error } = {};
  private gates: { credentials: Deferred<void> | undefined; roles: Deferred<void> | undefined; loginRoles: Deferred<void> | undefined } = {
    credentials: undefined,
    roles: undefined,
    loginRoles: undefined,
  };
  /** Per kind, resolved when a read reaches the gate set by the last `hold()`. */
  private started: { credentials: Deferred<void>; roles: Deferred<void>; loginRoles: Deferred<void> } = {
    credentials: deferred(),
    roles: deferred(),
    loginRoles: deferred(),
  };

  put(r: Partial<RoleRecord> & { name: string }): void {
    this.roles.set(r.name, { hash: undefined, canLogin: true, superuser: false, memberOf: [], ...r });
  }

  /** Holds reads of `kind` until the returned function is called. */
  hold(kind: 'credentials' | 'roles' | 'loginRoles'): () => void {
    const d = deferred<void>();
    this.gates[kind] = d;
    this.started[kind] = deferred();
    return () => {
      this.gates[kind] = undefined;
      d.resolve();
    };
  }

  /** Resolves once a read of `kind` held by the last `hold()` has taken its snapshot of the data. */
  readStarted(kind: 'credentials' | 'roles' | 'loginRoles'): Promise<void> {
    return this.started[kind].promise;
  }

  private async gate(kind: 'credentials' | 'roles' | 'loginRoles'): Promise<void> {
    this.started[kind].resolve();
    const g = this.gates[kind];
    if (g) await g.promise;
  }

  async getCredentials(name: string): Promise<StoredCredentials | null> {
    this.reads.credentials++;
    const r = this.roles.get(name);
    // Snapshot before waiting: a held read returns what the backend said when it was asked.
    const snap = r ? { hash: r.hash, canLogin: r.canLogin } : null;
    await this.gate('credentials');
    this.maybeFail('credentials');
    return snap;
  }

  async resolveRoles(name: string): Promise<ResolvedRoles | null> {
    this.reads.roles++;
    const snap = this.resolveNow(name);
    await this.gate('roles');
    this.maybeFail('roles');
    return snap;
  }

  private maybeFail(kind: 'credentials' | 'roles'): void {
    const e = this.failNext[kind];
    if (e) {
      this.failNext[kind] = undefined;
      throw e;
    }
  }

  private resolveNow(name: string): ResolvedRoles | null {
    return resolveGrants(name, (n) => this.roles.get(n));
  }

  async get(name: string): Promise<RoleRecord | null> {
    return this.roles.get(name) ?? null;
  }

  async list(page: { after?: string; limit?: number } = {}): Promise<RoleRecord[]> {
    const all = [...this.roles.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).filter((r) => page.after === undefined || r.name > page.after);
    return page.limit === undefined ? all : all.slice(0, page.limit);
  }

  async holdersOf(name: string): Promise<string[]> {
    return holdersOf(name, this.roles.values());
  }

  async loginRoles(limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>> {
    this.reads.loginRoles++;
    this.lastLoginRolesLimit = limit;
    const rows = [...this.roles.values()]
      .filter((r) => r.canLogin)
      .slice(0, limit)
      .map((r) => ({ name: r.name, credentials: { hash: r.hash, canLogin: r.canLogin }, roles: this.resolveNow(r.name)! }));
    await this.gate('loginRoles');
    return rows;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  health(): 'up' | 'down' {
    return 'up';
  }

  async upsert(name: string, change: RoleChange): Promise<RoleWriteResult> {
    const before = this.roles.get(name) ?? null;
    const memberOf = change.memberOf === undefined ? undefined : [...new Set(change.memberOf)].sort();
    if (memberOf !== undefined) {
      const problem = grantProblem(name, memberOf, (n) => this.roles.get(n));
      if (problem) throw new RoleStoreError('invalid', problem);
    }
    const after = applyChange(name, before, change, memberOf);
    const affected = [name, ...(before && needsHolders(before, after) ? holdersOf(name, this.roles.values()) : [])];
    this.roles.set(name, after);
    return { created: before === null, role: after, affected, propagation: this.published(affected) };
  }

  async drop(name: string): Promise<RoleDropResult | null> {
    if (!this.roles.has(name)) return null;
    const affected = [name, ...holdersOf(name, this.roles.values())];
    this.roles.delete(name);
    for (const r of this.roles.values()) if (r.memberOf.includes(name)) r.memberOf = r.memberOf.filter((g) => g !== name);
    return { affected, propagation: this.published(affected) };
  }

  private published(usernames: string[]): Propagation {
    this.invalidations.push(usernames);
    return { seq: ++this.seq, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [{ node: 'fake', result: 'applied' }] };
  }
}

export const silentLog = pino({ level: 'silent' });

export function settingsFor(over: Partial<CacheSettings> = {}, perCache: Partial<Record<CacheName, Partial<CacheSettings>>> = {}): Record<CacheName, CacheSettings> {
  const base: CacheSettings = { ttl_ms: 60_000, max_entries: 100, refresh_ms: 0, active_update: false, enabled: true, ...over };
  const mk = (c: CacheName): CacheSettings => {
    const s = { ...base, ...perCache[c] };
    return { ...s, enabled: s.ttl_ms > 0 };
  };
  return { credentials: mk('credentials'), roles: mk('roles'), permissions: mk('permissions'), impersonation: mk('impersonation') };
}

/** A Directory's configuration for a fake client (nothing listens at ldap://fake; no polling), `extra` over it. */
export function fakeLdapConfig(extra: Record<string, string> = {}): LdapConfig {
  return loadLdapConfig({
    AUTHCACHE_LDAP_URL: 'ldap://fake',
    AUTHCACHE_LDAP_BIND_DN: 'cn=svc,dc=x',
    AUTHCACHE_LDAP_BIND_PASSWORD: 'pw',
    AUTHCACHE_LDAP_USER_BASE: 'ou=people,dc=x',
    AUTHCACHE_LDAP_GROUP_BASE: 'ou=groups,dc=x',
    AUTHCACHE_LDAP_POLL_MS: '0',
    ...extra,
  });
}
