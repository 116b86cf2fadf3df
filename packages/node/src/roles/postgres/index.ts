import type { BackendDeps } from '../backends';
import type { RoleStore } from '../role-store';
import type { PostgresConfig } from './config';

/** The PostgreSQL role store (placeholder until it lands). */
export function createPostgresStore(_config: PostgresConfig, _deps: BackendDeps): RoleStore {
  throw new Error('the PostgreSQL backend is not available in this build yet');
}
