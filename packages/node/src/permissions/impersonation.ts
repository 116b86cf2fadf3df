/**
 * OpenSearch's impersonation (docs/architecture.md, "Permissions and impersonation"): a caller may answer as TARGET when it holds IMPERSONATE
 * on `roles/TARGET` (or on `roles`, which covers every role; a superuser may impersonate anyone).
 * The decisions are cached in the impersonation cache, with its own counters; an entry depends on
 * the caller, the target and the caller's roles, so a user flush or a grant change naming any of
 * them drops it (docs/architecture.md, "Permissions and impersonation").
 */
import type { Logger } from 'pino';
import { IMPERSONATE, type CacheStats } from '@authcache/protocol';
import { HttpError } from '../errors';
import type { ResolvedRoles } from '../roles/role-store';
import { NamedCache, type Loaded } from './named-cache';
import { check, roleOrder, type Decision } from './rules';
import { settingsFor, type Authorizer, type RolesSource, type SettingsByCache } from './authorizer';

const SEP = '\0';

export class ImpersonationRefused extends HttpError {
  constructor(caller: string, target: string) {
    super(403, `${caller} is not allowed to impersonate ${target}`);
  }
}

export class Impersonation {
  readonly cache: NamedCache<Decision>;

  constructor(
    private readonly authorizer: Authorizer,
    private readonly roles: RolesSource,
    private readonly trusted: () => boolean,
    settings: SettingsByCache,
    log: Logger,
    now?: () => number,
  ) {
    this.cache = new NamedCache('impersonation', (key) => this.decide(key), settingsFor(settings, 'impersonation'), log, now);
  }

  /** Whether `caller` may answer as `target`; synchronous on a cache hit. */
  allowed(caller: string, target: string): boolean | Promise<boolean> {
    if (caller === target) return true;
    const key = caller + SEP + target;
    if (this.trusted()) {
      const hit = this.cache.get(key);
      if (hit !== undefined) return hit.allowed;
      return this.cache.load(key).then((d) => d?.allowed === true);
    }
    return this.decide(key).then((d) => d.value.allowed);
  }

  /** Throws ImpersonationRefused (403) unless `caller` may answer as `target`. */
  async require(caller: string, target: string): Promise<void> {
    // `roles/a/b` is below `roles/a`: a target with a "/" would be covered by a grant meant for another.
    if (target.includes('/')) throw new HttpError(400, `cannot impersonate ${JSON.stringify(target)}: a target name must not contain "/"`);
    if (!(await this.allowed(caller, target))) throw new ImpersonationRefused(caller, target);
  }

  /**
   * For the login route: the target's roles once the authenticated caller may impersonate it;
   * 403 when it may not, and when the target does not exist (a login cannot answer as nobody).
   */
  async resolve(caller: string, target: string): Promise<ResolvedRoles> {
    await this.require(caller, target);
    const roles = await this.roles(target, this.trusted());
    if (roles === null) throw new HttpError(403, `cannot impersonate ${target}: no such user`);
    return roles;
  }

  stats(): CacheStats {
    return this.cache.snapshot();
  }

  close(): void {
    this.cache.close();
  }

  private async decide(key: string): Promise<Loaded<Decision>> {
    const i = key.indexOf(SEP);
    const caller = key.slice(0, i);
    const target = key.slice(i + 1);
    const roles = await this.roles(caller, this.trusted());
    const names = roles === null ? [caller, target] : [...roleOrder(caller, roles.roles), target];
    const r = this.authorizer.tableOf(caller);
    const table = r instanceof Promise ? await r : r.table;
    const d: Decision = table === null ? { allowed: false, via: null } : check(table, `roles/${target}`, IMPERSONATE);
    return { value: d, names };
  }
}
