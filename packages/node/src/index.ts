export { AuthcacheNode } from './node';
export { loadConfig, ConfigError, type Config } from './config';
export { buildServer } from './http/server';
export { AuthCache } from './cache/auth-cache';
export { BoundedCache } from './cache/bounded-cache';
export { LoadGuard } from './cache/load-guard';
export * from './cache/settings';
export * from './bus/sequencer';
export type { RoleStore } from './roles/role-store';
