/**
 * The LDAP role store: read-only (roles are the directory's groups), login checked by binding as
 * the user. Users are found with the service account (USER_FILTER, the username escaped per
 * RFC 4515); roles are the names of the user's groups, followed through nested groups to
 * AUTHCACHE_LDAP_GROUP_DEPTH levels, with `superuser` for holders of AUTHCACHE_LDAP_ADMIN_GROUP.
 */
import { randomUUID } from 'node:crypto';
import { LIMITS } from '@authcache/protocol';
import { SizeLimitExceededError, type Entry } from 'ldapts';
import type { Logger } from 'pino';
import { resolveGrantsAsync, type GrantNode } from '../grant-graph';
import {
  RoleStoreError,
  type ResolvedRoles,
  type RoleDropResult,
  type RoleRecord,
  type RoleStore,
  type RoleWriteResult,
  type StoredCredentials,
} from '../role-store';
import type { LdapConfig } from './config';
import { isResultError, type Directory } from './directory';
import { and, dnKey, escapeFilterValue, fillFilter, isUnder, presenceFilter } from './filters';
import { readSnapshot, first, userAttrs, values } from './snapshot';
import type { ChangePoller } from './change-poller';

export const READ_ONLY_MESSAGE = 'roles are managed by the LDAP directory';

/** Longest username looked up (the protocol's limit); longer ones are unknown without a round trip. */
const MAX_USERNAME = LIMITS.username;

export interface LdapUser {
  name: string;
  dn: string;
  disabled: boolean;
  modifyTimestamp: string | undefined;
  /** memberOf mode: the DNs the entry's memberOf attribute names (inside GROUP_BASE). */
  memberOf: string[];
}

interface GroupRef {
  dn: string;
  name: string;
}

export class LdapRoleStore implements RoleStore {
  readonly capabilities = { writable: false };
  /** A DN that does not exist: unknown and disabled users still cost one bind, like a wrong password. */
  private readonly decoyDn: string;

  constructor(
    private readonly cfg: LdapConfig,
    private readonly dir: Directory,
    private readonly log: Logger,
    private readonly poller?: ChangePoller,
  ) {
    this.decoyDn = `${cfg.usernameAttr}=authcache-decoy-${randomUUID()},${cfg.userBase}`;
  }

  async start(): Promise<void> {
    await this.dir.start();
    this.poller?.start();
  }

  async stop(): Promise<void> {
    await this.poller?.stop();
    await this.dir.stop();
  }

  /** Down while the directory does not answer, or while this node's change polls keep failing (changes would go unseen). */
  health(): 'up' | 'down' {
    return this.poller?.failing() ? 'down' : this.dir.health();
  }

  // ---- login ----

  /**
   * The password check of this backend (the cache calls it instead of bcrypt): search the user,
   * bind as its DN. False for an unknown user, a wrong or empty password and a disabled account
   * alike; RoleStoreError('unavailable') only when the directory does not answer.
   */
  async verifyPassword(name: string, password: string): Promise<boolean> {
    if (typeof password !== 'string' || password === '') return false;
    const user = await this.findUser(name);
    if (user === null || user.disabled) {
      await this.dir.checkBind(this.decoyDn, password);
      return false;
    }
    return this.dir.checkBind(user.dn, password);
  }

  /**
   * `hash` is no hash: a token that changes with the entry (its modifyTimestamp), so that a cached
   * fast verifier survives a refresh only while the entry is unchanged. It is never a bcrypt
   * hash, so a cache that ignores verifyPassword refuses every login (fail closed).
   */
  async getCredentials(name: string): Promise<StoredCredentials | null> {
    const user = await this.findUser(name);
    if (user === null) return null;
    return { hash: `{LDAP}${user.modifyTimestamp ?? ''}`, canLogin: !user.disabled };
  }

  async resolveRoles(name: string): Promise<ResolvedRoles | null> {
    const user = await this.findUser(name);
    if (user === null) return null;
    return this.resolveFor(user);
  }

  // ---- reads ----

  async get(name: string): Promise<RoleRecord | null> {
    const user = await this.findUser(name);
    if (user !== null) {
      const groups = await this.groupsOf(user.dn, user.name, user.memberOf);
      return { name: user.name, hash: undefined, canLogin: !user.disabled, superuser: false, memberOf: sortedNames(groups) };
    }
    const group = await this.findGroup(name);
    if (group === null) return null;
    const parents = await this.groupsOf(group.dn, group.name, group.memberOf);
    return { name: group.name, hash: undefined, canLogin: false, superuser: group.name === this.cfg.adminGroup, memberOf: sortedNames(parents) };
  }

  async list(page: { after?: string; limit?: number } = {}): Promise<RoleRecord[]> {
    let records = (await this.guard(readSnapshot(this.dir, this.cfg))).records();
    if (page.after !== undefined) records = records.filter((r) => r.name > page.after!);
    return page.limit !== undefined ? records.slice(0, page.limit) : records;
  }

  async holdersOf(name: string): Promise<string[]> {
    return (await this.guard(readSnapshot(this.dir, this.cfg))).holdersOf(name);
  }

  /** Warming needs stored hashes to check passwords without the backend; LDAP gives none, so nothing is warmed. */
  async loginRoles(_limit: number): Promise<Array<{ name: string; credentials: StoredCredentials; roles: ResolvedRoles }>> {
    return [];
  }

  // ---- writes: never ----

  async upsert(): Promise<RoleWriteResult> {
    throw new RoleStoreError('read_only', READ_ONLY_MESSAGE);
  }

  async drop(): Promise<RoleDropResult | null> {
    throw new RoleStoreError('read_only', READ_ONLY_MESSAGE);
  }

  // ---- the directory ----

  /**
   * The one entry whose username attribute is exactly `name`, or null. Exact, case included:
   * LDAP matches `uid` case-insensitively, and a second spelling would be a second cache entry
   * that the invalidation of the real name does not reach.
   */
  async findUser(name: string): Promise<LdapUser | null> {
    if (typeof name !== 'string' || name === '' || name.length > MAX_USERNAME) return null;
    const filter = fillFilter(this.cfg.userFilter, { username: name });
    const [found, disabled] = await Promise.all([
      this.searchOrNull(this.cfg.userBase, filter, userAttrs(this.cfg), 'sub', 2),
      this.cfg.disabledFilter ? this.searchOrNull(this.cfg.userBase, and(filter, this.cfg.disabledFilter), ['1.1'], 'sub', 2) : Promise.resolve([]),
    ]);
    if (found === null || found.length !== 1) {
      if (found !== null && found.length > 1) this.log.warn({ count: found.length }, 'LDAP: a username matches several entries; refused');
      return null;
    }
    const e = found[0]!;
    if (!values(e, this.cfg.usernameAttr).includes(name)) return null;
    const isDisabled = disabled === null || disabled.some((d) => dnKey(d.dn) === dnKey(e.dn));
    return {
      name,
      dn: e.dn,
      disabled: isDisabled,
      modifyTimestamp: first(e, 'modifyTimestamp'),
      memberOf: this.cfg.memberOfAttr ? values(e, this.cfg.memberOfAttr).filter((d) => isUnder(d, this.cfg.groupBase)) : [],
    };
  }

  private async findGroup(name: string): Promise<(GroupRef & { memberOf: string[] }) | null> {
    if (typeof name !== 'string' || name === '' || name.length > MAX_USERNAME) return null;
    const filter = and(presenceFilter(this.cfg.groupFilter), `(${this.cfg.groupNameAttr}=${escapeFilterValue(name)})`);
    const attrs = [this.cfg.groupNameAttr, ...(this.cfg.memberOfAttr ? [this.cfg.memberOfAttr] : [])];
    const found = (await this.searchOrNull(this.cfg.groupBase, filter, attrs))?.filter((e) => values(e, this.cfg.groupNameAttr).includes(name));
    if (!found || found.length === 0) return null;
    const e = found[0]!;
    return { dn: e.dn, name, memberOf: this.cfg.memberOfAttr ? values(e, this.cfg.memberOfAttr).filter((d) => isUnder(d, this.cfg.groupBase)) : [] };
  }

  /** The groups `dn` is directly in: a group search (GROUP_FILTER) or, in memberOf mode, the entries its memberOf names. */
  private async groupsOf(dn: string, name: string, memberOf: string[]): Promise<GroupRef[]> {
    if (this.cfg.memberOfAttr) {
      const read = await Promise.all(memberOf.map((g) => this.readGroup(g)));
      return read.filter((g): g is GroupRef & { memberOf: string[] } => g !== null);
    }
    const filter = fillFilter(this.cfg.groupFilter, { dn, username: name });
    const found = (await this.searchOrNull(this.cfg.groupBase, filter, [this.cfg.groupNameAttr])) ?? [];
    return found.flatMap((e) => {
      const n = first(e, this.cfg.groupNameAttr);
      return n === undefined ? [] : [{ dn: e.dn, name: n }];
    });
  }

  private async readGroup(dn: string): Promise<(GroupRef & { memberOf: string[] }) | null> {
    const found = await this.searchOrNull(dn, presenceFilter(this.cfg.groupFilter), [this.cfg.groupNameAttr, this.cfg.memberOfAttr!], 'base');
    const e = found?.[0];
    const n = e === undefined ? undefined : first(e, this.cfg.groupNameAttr);
    if (e === undefined || n === undefined) return null;
    return { dn: e.dn, name: n, memberOf: values(e, this.cfg.memberOfAttr!).filter((d) => isUnder(d, this.cfg.groupBase)) };
  }

  /** The closure over nested groups, one directory round trip per level, bounded by GROUP_DEPTH. */
  private async resolveFor(user: LdapUser): Promise<ResolvedRoles | null> {
    const rootKey = dnKey(user.dn);
    const known = new Map<string, { dn: string; name: string; memberOf: string[] }>([[rootKey, { dn: user.dn, name: user.name, memberOf: user.memberOf }]]);
    let level = 0;
    const fetch = async (keys: string[]): Promise<Map<string, GrantNode | undefined>> => {
      const depth = level++;
      const out = new Map<string, GrantNode | undefined>();
      await Promise.all(
        keys.map(async (k) => {
          const self = known.get(k);
          if (self === undefined) return;
          const parents = depth >= this.cfg.groupDepth ? [] : await this.groupsOf(self.dn, self.name, self.memberOf);
          for (const p of parents) if (!known.has(dnKey(p.dn))) known.set(dnKey(p.dn), { memberOf: [], ...p });
          out.set(k, { memberOf: parents.map((p) => dnKey(p.dn)), superuser: k !== rootKey && self.name === this.cfg.adminGroup });
        }),
      );
      return out;
    };
    const resolved = await resolveGrantsAsync(rootKey, fetch);
    if (resolved === null) return null;
    const names = [...new Set(resolved.roles.map((k) => known.get(k)!.name))].sort();
    return { roles: names, superuser: resolved.superuser };
  }

  /** A search whose refusals (no such base...) read as "none"; null when it found more than `sizeLimit` entries. */
  private async searchOrNull(base: string, filter: string, attributes: string[], scope: 'base' | 'sub' = 'sub', sizeLimit = 0): Promise<Entry[] | null> {
    try {
      return await this.dir.search(base, { scope, filter, attributes, sizeLimit });
    } catch (err) {
      if (err instanceof SizeLimitExceededError) return null;
      if (isResultError(err)) {
        if (err.code !== 32) this.log.warn({ code: err.code, err: err.message }, 'LDAP search refused');
        return [];
      }
      throw err;
    }
  }

  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof RoleStoreError) throw err;
      throw new RoleStoreError('unavailable', `the LDAP directory refused the read: ${(err as Error).message}`);
    }
  }
}

function sortedNames(groups: GroupRef[]): string[] {
  return [...new Set(groups.map((g) => g.name))].sort();
}
