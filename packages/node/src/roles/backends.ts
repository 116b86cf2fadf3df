/**
 * The role store a node runs with, chosen from AUTHCACHE_BACKEND. Each backend gets the same
 * dependencies; see docs/architecture.md, "Adding a backend".
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CacheName, ClusterNames, Propagation } from '@authcache/protocol';
import type { Config } from '../config';
import type { StoreOp } from '../bus/transport';
import type { RoleStore } from './role-store';
import { RedisRoleStore } from './redis-role-store';
import { createPostgresStore } from './postgres/index';
import { createLdapStore } from './ldap/index';

export interface BackendDeps {
  config: Config;
  log: Logger;
  /** The node's command connection to Redis (the bus's store). */
  redis: Redis;
  names: ClusterNames;
  /**
   * Publishes the invalidation of `usernames` (flush all past a size) in one atomic step with `ops`
   * on the bus's store; `caches` limits it to those caches (default: every cache).
   */
  invalidate(usernames: string[], ops?: StoreOp[], caches?: CacheName[]): Promise<Propagation>;
}

export function createRoleStore(deps: BackendDeps): RoleStore {
  const b = deps.config.backend;
  switch (b.kind) {
    case 'redis':
      return new RedisRoleStore(deps.redis, deps.names, (usernames, ops) => deps.invalidate(usernames, ops));
    case 'postgres':
      return createPostgresStore(b.postgres, deps);
    case 'ldap':
      return createLdapStore(b.ldap, deps);
  }
}
