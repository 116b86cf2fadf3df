/**
 * The seam between propagation (the replicator) and what carries it (Redis today; Sentinel and
 * Redis Cluster next). A transport knows nothing of caches or of seq rules: it assigns seqs,
 * stores a bounded log, broadcasts frames and carries acks. See docs/architecture.md
 * ("Adding a transport").
 */

/**
 * State written in the same atomic step as a publish: the role rows or settings that a change
 * writes together with its invalidation, so that one never lands without the other.
 * Keys are full keys of the transport's store (cluster prefix included).
 */
export type StoreOp =
  | { op: 'hset'; key: string; fields: Record<string, string> }
  | { op: 'hdel'; key: string; fields: string[] }
  | { op: 'del'; key: string }
  | { op: 'sadd'; key: string; members: string[] }
  | { op: 'srem'; key: string; members: string[] }
  /** A guard, checked before any write: when `key`'s existence differs, nothing is written or published. */
  | { op: 'expect'; key: string; exists: boolean }
  /** A value guard, checked with the others: hash `key`'s `field` holds `value` (null: the field is absent). */
  | { op: 'expect_field'; key: string; field: string; value: string | null };

/** The cluster's position: the last assigned seq, and the id of the store's current life. */
export interface Position {
  seq: number;
  /** Changes only when the store lost its state (restart without data, flush): seq restarted. */
  epoch: string;
}

/** One entry of the log: the seq the transport assigned, and the frame as stored (unverified). */
export interface LogEntry {
  seq: number;
  frame: Buffer;
}

/**
 * Why a transport call failed, as far as the caller can know:
 * - `not_applied`: the command never reached the store (not connected, refused); nothing changed.
 * - `unknown`: it was sent but no answer came (timeout, connection lost after sending); it may
 *   have been applied — and then it is published, so callers must say "outcome unknown".
 * - `guard`: an `expect` op did not hold; nothing was written or published.
 */
export type TransportFailure = 'not_applied' | 'unknown' | 'guard';

export class TransportError extends Error {
  constructor(readonly failure: TransportFailure, message: string, readonly guardKey?: string) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface TransportHandlers {
  /** A frame from the update channel (any bytes: the replicator decodes and validates). */
  onUpdate(frame: Buffer): void;
  /** A frame on this node's ack channel. */
  onAck(frame: Buffer): void;
  /** The transport (re)connected: updates may have been missed meanwhile. */
  onReconnect(): void;
}

/** What a publish answers: the seq it assigned, and the members version at the same instant. */
export interface Published {
  seq: number;
  /**
   * The members version read inside the publish's atomic step ('' when none was ever set), where
   * the store keeps one: the origin then knows, without a command of its own, whether the members
   * it holds are still whom to wait for (docs/architecture.md, "Membership"). Undefined: the
   * transport keeps none, and the membership reads it.
   */
  membersVersion?: string;
}

export interface BusTransport {
  /** Connects and subscribes; handlers may be called from then on. */
  start(handlers: TransportHandlers): Promise<void>;
  stop(): Promise<void>;
  /** True while commands can be sent. */
  isReady(): boolean;
  /**
   * The current position. Read-only while the epoch exists (so that it works while writes are
   * paused); creates the epoch when it is missing.
   */
  position(): Promise<Position>;
  /**
   * Atomically: check the guards, assign the next seq, write it into the frame's header, apply
   * `ops`, append the frame to the log and broadcast it. Resolves to the seq assigned (and the
   * members version, where kept); rejects with a TransportError.
   */
  publish(frame: Buffer, ops: readonly StoreOp[]): Promise<Published>;
  /** Entries of the log with seq in [from, to], in seq order (some may be missing: pruned). */
  readLog(from: number, to: number): Promise<LogEntry[]>;
  /** Sends an ack frame to the member that published the update. */
  sendAck(origin: string, frame: Buffer): Promise<void>;
}
