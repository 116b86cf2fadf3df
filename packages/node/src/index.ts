export { AuthcacheNode } from './node';
export { loadConfig, ConfigError, type Config } from './config';
export { buildServer } from './http/server';
export { AuthCache } from './cache/auth-cache';
export { BoundedCache } from './cache/bounded-cache';
export { LoadGuard } from './cache/load-guard';
export * from './cache/settings';
export * from './bus/sequencer';
export type { RoleStore } from './roles/role-store';
// The propagation seam, for other transports and the in-memory one of @authcache/testkit (docs/architecture.md, "Adding a transport").
export { Replicator, type Change, type ReplicatorOptions, type ReplicatorMetrics, type StartPosition } from './bus/replicator';
export { NotDurableError } from './bus/durability';
export { TransportError, type BusTransport, type StoreOp, type Position, type LogEntry, type Published, type TransportFailure, type TransportHandlers } from './bus/transport';
export type { ExpectedMembers } from './membership';
