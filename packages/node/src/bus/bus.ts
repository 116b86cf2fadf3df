/**
 * The propagation seam as the rest of the node sees it (docs/architecture.md,
 * "Propagation"): the replicator (seq order, gaps, acks, anti-entropy, fail-closed) over a
 * BusTransport (Redis today). Kept as the one import path for the bus.
 */
export { Replicator, type Change, type ReplicatorOptions, type StartPosition, type Propagation } from './replicator';
export { RedisTransport, type RedisTransportOptions } from './redis-transport';
export { TransportError, type BusTransport, type StoreOp, type Position, type LogEntry, type TransportFailure } from './transport';
export { settingsOps } from './settings-ops';
