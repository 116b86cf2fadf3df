import type { ClusterNames } from '@authcache/protocol';
import { Lease } from '../../lease';
import type { BackendDeps } from '../backends';
import type { RoleStore } from '../role-store';
import { ChangePoller } from './change-poller';
import type { LdapConfig } from './config';
import { Directory } from './directory';
import { LdapRoleStore } from './store';

export { LdapRoleStore, READ_ONLY_MESSAGE } from './store';
export { loadLdapConfig, type LdapConfig } from './config';
export { ChangePoller } from './change-poller';
export { Directory } from './directory';

/** Redis keys of the change poller: the lease (one polling node per cluster) and the mark it resumes from. */
export function pollerKeys(names: ClusterNames): { lease: string; mark: string } {
  const lease = names.lease('ldap-poller');
  return { lease, mark: `${lease}:mark` };
}

/**
 * The LDAP role store. One node of the cluster (the lease holder) polls the directory for
 * changes; another takes over within the lease TTL (3 poll intervals, at least 3 s).
 */
export function createLdapStore(config: LdapConfig, deps: BackendDeps): RoleStore {
  const log = deps.log.child({ component: 'ldap' });
  const dir = new Directory(config, log);
  const keys = pollerKeys(deps.names);
  const poller =
    config.pollMs > 0
      ? new ChangePoller({
          cfg: config,
          dir,
          lease: new Lease(deps.redis, keys.lease, Math.max(3 * config.pollMs, 3000)),
          redis: deps.redis,
          markKey: keys.mark,
          invalidate: (usernames) => deps.invalidate(usernames),
          log,
        })
      : undefined;
  return new LdapRoleStore(config, dir, log, poller);
}
