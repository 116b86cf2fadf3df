import type { CacheName, RoleChange, RoleInfo, SetSettingsBody } from '@authcache/protocol';
import type { AuthcacheNode, Change } from './node';
import type { Propagation } from './bus/bus';
import { changesOf, settingsWrites } from './cache/settings';
import { settingsOps } from './bus/settings-ops';
import { RoleStoreError, type RoleRecord, type RoleStoreErrorKind } from './roles/role-store';
import { HttpError, badRequest, notFound, orUnavailable } from './errors';

/** More users than this in one invalidation: flush everything instead of a giant message. */
const MAX_USERS_PER_UPDATE = 5000;

export type RoleInput = RoleChange;

/** How each kind of role-store failure is answered; 504 says the change may stand. */
const ROLE_STORE_STATUS: Record<RoleStoreErrorKind, number> = { unavailable: 503, outcome_unknown: 504, read_only: 409, conflict: 409, invalid: 400 };

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
    // A local change is applied in memory only: refused rather than answered 200 with nothing stored.
    if (local && changesOf(body).some((c) => c.persistent)) {
      return Promise.reject(badRequest('persistent settings cannot be changed with local=true: a local change is not stored and lasts until the node restarts'));
    }
    return this.run({ kind: 'set_settings', body }, local);
  }

  async putRole(name: string, input: RoleInput): Promise<{ role: RoleInfo; created: boolean; propagation: Propagation }> {
    const store = this.node.roles;
    let memberOf: string[] | undefined;
    if (input.roles !== undefined || input.grant !== undefined || input.revoke !== undefined) {
      const base = input.roles ?? (await this.backend(() => store.get(name)))?.memberOf ?? [];
      memberOf = [...new Set([...base, ...(input.grant ?? [])])].filter((r) => !(input.revoke ?? []).includes(r));
    }
    const hash = input.password !== undefined ? await this.node.passwords.hash(input.password) : undefined;
    const r = await this.backend(() =>
      store.upsert(name, {
        ...(hash !== undefined ? { hash } : {}),
        ...(input.login !== undefined ? { canLogin: input.login } : {}),
        ...(input.superuser !== undefined ? { superuser: input.superuser } : {}),
        ...(memberOf !== undefined ? { memberOf } : {}),
      }),
    );
    const p = r.propagation;
    this.node.log.info(
      { role: name, created: r.created, passwordChanged: hash !== undefined, login: input.login, superuser: input.superuser, grants: memberOf, affected: r.affected.length, seq: p.seq, nodes: p.nodes },
      'role written and invalidated',
    );
    return { role: roleInfo(r.role), created: r.created, propagation: p };
  }

  async dropRole(name: string): Promise<Propagation> {
    const r = await this.backend(() => this.node.roles.drop(name));
    if (!r) throw notFound(`role ${name} does not exist`);
    this.node.log.info({ role: name, affected: r.affected.length, seq: r.propagation.seq, nodes: r.propagation.nodes }, 'role dropped and invalidated');
    return r.propagation;
  }

  /** The invalidation a role write publishes with it: the users, or everything past a size; `caches` limits it. */
  invalidation(usernames: string[], caches?: CacheName[]): Change {
    const only = caches ? { caches } : {};
    return usernames.length > MAX_USERS_PER_UPDATE ? { kind: 'flush_all', body: only } : { kind: 'flush_users', body: { usernames, ...only } };
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

  /** Backend calls of a request: typed store errors become their HTTP answer, other failures a 503, each with a log line. */
  private backend<T>(f: () => Promise<T>, message = 'role store unreachable'): Promise<T> {
    return orUnavailable(this.node.log, message, async () => {
      try {
        return await f();
      } catch (err) {
        if (!(err instanceof RoleStoreError)) throw err;
        this.node.log.warn({ kind: err.kind, err: err.message }, 'role store refused the call');
        throw new HttpError(ROLE_STORE_STATUS[err.kind], err.message);
      }
    });
  }
}
