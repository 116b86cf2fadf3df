import type { CacheName, RoleChange, RoleInfo, SetSettingsBody } from '@authcache/protocol';
import type { AuthcacheNode, Change } from './node';
import type { Propagation } from './bus/bus';
import { settingsWrites } from './cache/settings';
import { settingsOps } from './bus/settings-ops';
import type { RoleRecord } from './roles/role-store';
import { badRequest, notFound, orUnavailable } from './errors';

/** More users than this in one invalidation: flush everything instead of a giant message. */
const MAX_USERS_PER_UPDATE = 5000;

export type RoleInput = RoleChange;

export function roleInfo(r: RoleRecord): RoleInfo {
  return { name: r.name, login: r.canLogin, superuser: r.superuser, roles: r.memberOf, has_password: r.hash !== undefined };
}

/**
 * Admin operations: each is one ConfigUpdate published to every node (or applied here alone
 * with `local`), answered once the live members acknowledged it or the wait ran out.
 */
export class Admin {
  constructor(private readonly node: AuthcacheNode) {}

  flushAll(caches: CacheName[] | undefined, local: boolean): Promise<Propagation> {
    return this.run({ kind: 'flush_all', body: caches ? { caches } : {} }, local);
  }

  flushUsers(usernames: string[], caches: CacheName[] | undefined, local: boolean): Promise<Propagation> {
    return this.run({ kind: 'flush_users', body: { usernames, ...(caches ? { caches } : {}) } }, local);
  }

  setSettings(body: SetSettingsBody, local: boolean): Promise<Propagation> {
    return this.run({ kind: 'set_settings', body }, local);
  }

  async putRole(name: string, input: RoleInput): Promise<{ role: RoleInfo; created: boolean; propagation: Propagation }> {
    const store = this.node.roles;
    const existing = await this.backend(() => store.get(name));
    let memberOf: string[] | undefined;
    if (input.roles !== undefined || input.grant !== undefined || input.revoke !== undefined) {
      const base = input.roles ?? existing?.memberOf ?? [];
      memberOf = [...new Set([...base, ...(input.grant ?? [])])].filter((r) => !(input.revoke ?? []).includes(r));
      await this.checkGrants(name, memberOf);
    }
    const grantsChanged = memberOf !== undefined && JSON.stringify([...memberOf].sort()) !== JSON.stringify(existing?.memberOf ?? []);
    const superChanged = input.superuser !== undefined && input.superuser !== (existing?.superuser ?? false);
    const hash = input.password !== undefined ? await this.node.passwords.hash(input.password) : undefined;
    // Who holds this role sees its grants and superuser status: they are invalidated with it.
    const affected = [name, ...(grantsChanged || superChanged ? await this.backend(() => store.holdersOf(name)) : [])];
    const created = await this.backend(() =>
      store.upsert(name, {
        ...(hash !== undefined ? { hash } : {}),
        ...(input.login !== undefined ? { canLogin: input.login } : {}),
        ...(input.superuser !== undefined ? { superuser: input.superuser } : {}),
        ...(memberOf !== undefined ? { memberOf } : {}),
      }),
    );
    this.node.log.info({ role: name, created, passwordChanged: hash !== undefined, login: input.login, superuser: input.superuser, grants: memberOf, affected: affected.length }, 'role written');
    const propagation = await this.invalidate(affected);
    const stored = await this.backend(() => store.get(name));
    return { role: roleInfo(stored!), created, propagation };
  }

  async dropRole(name: string): Promise<Propagation> {
    const store = this.node.roles;
    const affected = [name, ...(await this.backend(() => store.holdersOf(name)))];
    if (!(await this.backend(() => store.drop(name)))) throw notFound(`role ${name} does not exist`);
    this.node.log.info({ role: name, affected: affected.length }, 'role dropped');
    return this.invalidate(affected);
  }

  private invalidate(usernames: string[]): Promise<Propagation> {
    return usernames.length > MAX_USERS_PER_UPDATE ? this.flushAll(undefined, false) : this.flushUsers(usernames, undefined, false);
  }

  /** Granted roles must exist, and a grant may not make a role hold itself (Cassandra refuses both). */
  private async checkGrants(name: string, memberOf: string[]): Promise<void> {
    for (const g of memberOf) {
      if (g === name) throw badRequest(`role ${name} cannot be granted to itself`);
      const resolved = await this.backend(() => this.node.roles.resolveRoles(g));
      if (!resolved) throw badRequest(`role ${g} does not exist`);
      if (resolved.roles.includes(name)) throw badRequest(`granting ${g} to ${name} would create a circular grant`);
    }
  }

  private async run(change: Change, local: boolean): Promise<Propagation> {
    if (local) {
      this.node.apply(change);
      return { seq: this.node.bus.appliedSeq, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [{ node: this.node.config.nodeId, result: 'applied' }] };
    }
    // Settings travel as StoreOps, written by the same atomic step that publishes the update.
    const ops = change.kind === 'set_settings' ? settingsOps(this.node.names, settingsWrites(change.body)) : [];
    const p = await this.backend(() => this.node.bus.publish(change, ops), 'could not publish the update: redis unreachable');
    this.node.log.info({ kind: change.kind, seq: p.seq, nodes: p.nodes, failures: p.failures }, 'update propagated');
    return p;
  }

  private backend<T>(f: () => Promise<T>, message = 'role store unreachable'): Promise<T> {
    return orUnavailable(this.node.log, message, f);
  }

}
