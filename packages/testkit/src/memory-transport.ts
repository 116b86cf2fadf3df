/**
 * An in-memory BusTransport for the replicator's unit tests and the bench's simulation of many
 * nodes (docs/architecture.md, "Adding a transport", "Scaling limits"): one MemoryStore plays Redis (seq
 * counter, epoch, bounded log, pub/sub, the state StoreOps write), and each node gets a
 * MemoryTransport whose deliveries a seeded "chaos" policy can drop, duplicate, delay and so
 * reorder, and which can be cut off (commands fail, deliveries are lost) and healed. Timers are
 * setTimeout, so jest's fake timers (or the bench's simulated clock) drive everything deterministically.
 */
import { randomUUID } from 'node:crypto';
import { FRAME_SEQ_OFFSET, withSeq } from '@authcache/protocol';
import { NotDurableError, TransportError, type BusTransport, type LogEntry, type Position, type Published, type StoreOp, type TransportHandlers } from '@authcache/node';

/** mulberry32: small, seeded, good enough to pick faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Chaos {
  /** probability that one delivery of an update frame is lost */
  drop?: number;
  /** probability that it is delivered twice */
  duplicate?: number;
  /** each delivery is delayed uniformly in [0, maxDelayMs]: frames overtake each other */
  maxDelayMs?: number;
  random?: () => number;
  /** A latency model of its own (the bench's simulation): the delay of each update delivery, in place of maxDelayMs. */
  delayMs?: () => number;
  /** The delay of each ack reaching this node (the origin); none when unset. */
  ackDelayMs?: () => number;
}

export class MemoryStore {
  seq = 0;
  epoch: string | null = randomUUID();
  readonly log = new Map<number, Buffer>();
  readonly hashes = new Map<string, Map<string, string>>();
  readonly sets = new Map<string, Set<string>>();
  readonly transports = new Set<MemoryTransport>();
  /** when each seq was assigned (the moment a publish became visible) */
  readonly assignedAt = new Map<number, number>();

  constructor(public logMaxLen = 1000, private readonly now: () => number = Date.now) {}

  exists(key: string): boolean {
    return this.hashes.has(key) || this.sets.has(key);
  }

  /** What the publish script does, atomically. */
  publish(frame: Buffer, ops: readonly StoreOp[]): number | { guard: string } {
    for (const op of ops) {
      if (op.op === 'expect' && this.exists(op.key) !== op.exists) return { guard: op.key };
      if (op.op === 'expect_field' && (this.hashes.get(op.key)?.get(op.field) ?? null) !== op.value) return { guard: op.key };
    }
    const seq = ++this.seq;
    this.epoch ??= randomUUID();
    for (const op of ops) this.applyOp(op);
    const stored = frame.length > FRAME_SEQ_OFFSET + 8 ? withSeq(frame, seq) : frame;
    this.log.set(seq, stored);
    this.assignedAt.set(seq, this.now());
    this.prune(this.logMaxLen);
    for (const t of this.transports) t.deliver(stored);
    return seq;
  }

  /** Drops all but the newest `keep` entries of the log. */
  prune(keep: number): void {
    const seqs = [...this.log.keys()].sort((a, b) => a - b);
    for (const s of seqs.slice(0, Math.max(0, seqs.length - keep))) this.log.delete(s);
  }

  /** The store loses everything (restart without data). */
  wipe(): void {
    this.seq = 0;
    this.epoch = null;
    this.log.clear();
    this.hashes.clear();
    this.sets.clear();
  }

  private applyOp(op: StoreOp): void {
    switch (op.op) {
      case 'hset': {
        const h = this.hashes.get(op.key) ?? new Map<string, string>();
        for (const [f, v] of Object.entries(op.fields)) h.set(f, v);
        this.hashes.set(op.key, h);
        break;
      }
      case 'hdel':
        for (const f of op.fields) this.hashes.get(op.key)?.delete(f);
        if (this.hashes.get(op.key)?.size === 0) this.hashes.delete(op.key);
        break;
      case 'del':
        this.hashes.delete(op.key);
        this.sets.delete(op.key);
        break;
      case 'sadd': {
        const s = this.sets.get(op.key) ?? new Set<string>();
        for (const m of op.members) s.add(m);
        this.sets.set(op.key, s);
        break;
      }
      case 'srem':
        for (const m of op.members) this.sets.get(op.key)?.delete(m);
        if (this.sets.get(op.key)?.size === 0) this.sets.delete(op.key);
        break;
      case 'expect':
      case 'expect_field':
        break;
    }
  }
}

export class MemoryTransport implements BusTransport {
  private handlers: TransportHandlers | undefined;
  private connected = true;
  chaos: Chaos = {};
  /** command latency */
  latencyMs = 0;
  /** Runs while a position read is in flight, before it reads: lets a test slip a delivery in. */
  onPositionRead: (() => void) | undefined;
  /** Makes the next publish time out after the store applied it (the outcome is unknown to the caller). */
  loseNextReply = false;
  /** Makes the next publish report that no replica confirmed it, after the store applied and broadcast it (WAIT). */
  notDurableNext = false;
  readonly sentAcks: Array<{ origin: string; frame: Buffer }> = [];

  constructor(readonly store: MemoryStore, readonly nodeId: string, private readonly peers: Map<string, MemoryTransport>) {
    peers.set(nodeId, this);
  }

  async start(h: TransportHandlers): Promise<void> {
    this.handlers = h;
    this.store.transports.add(this);
  }

  async stop(): Promise<void> {
    this.store.transports.delete(this);
    this.handlers = undefined;
  }

  isReady(): boolean {
    return this.connected;
  }

  /** Cut off from the store: commands fail before they are sent, deliveries are lost. */
  cut(): void {
    this.connected = false;
  }

  heal(): void {
    this.connected = true;
    this.handlers?.onReconnect();
  }

  /** The value is read when the command reaches the store; the reply arrives a latency later. */
  async position(): Promise<Position> {
    if (!this.connected) throw new TransportError('not_applied', 'not connected');
    this.store.epoch ??= randomUUID();
    const pos = { seq: this.store.seq, epoch: this.store.epoch };
    this.onPositionRead?.();
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    else await Promise.resolve();
    if (!this.connected) throw new TransportError('unknown', 'connection lost before the reply');
    return pos;
  }

  /** Keeps no members version: the membership reads its own (BusTransport.publish). */
  async publish(frame: Buffer, ops: readonly StoreOp[]): Promise<Published> {
    await this.command();
    const r = this.store.publish(frame, ops);
    if (typeof r !== 'number') throw new TransportError('guard', `guard on ${r.guard}`, r.guard);
    if (this.loseNextReply) {
      this.loseNextReply = false;
      throw new TransportError('unknown', 'Command timed out');
    }
    if (this.notDurableNext) {
      this.notDurableNext = false;
      throw new NotDurableError(r, 0, 1);
    }
    return { seq: r };
  }

  async readLog(from: number, to: number): Promise<LogEntry[]> {
    await this.command();
    const out: LogEntry[] = [];
    for (let s = from; s <= to; s++) {
      const frame = this.store.log.get(s);
      if (frame) out.push({ seq: s, frame });
    }
    return out;
  }

  async sendAck(origin: string, frame: Buffer): Promise<void> {
    await this.command();
    this.sentAcks.push({ origin, frame });
    const to = this.peers.get(origin);
    if (to?.connected) this.later(() => to.handlers?.onAck(frame), to.chaos.ackDelayMs?.() ?? 0);
  }

  /** A broadcast reaching this node, subject to the chaos policy. */
  deliver(frame: Buffer): void {
    if (!this.connected || !this.handlers) return;
    const r = this.chaos.random ?? Math.random;
    if (this.chaos.drop && r() < this.chaos.drop) return;
    const copies = this.chaos.duplicate && r() < this.chaos.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.chaos.delayMs ? this.chaos.delayMs() : this.chaos.maxDelayMs ? Math.floor(r() * this.chaos.maxDelayMs) : 0;
      this.later(() => this.connected && this.handlers?.onUpdate(frame), delay);
    }
  }

  /** Hands a frame to this node as if it came on its ack channel (forged acks, frames of the wrong type). */
  injectAck(frame: Buffer): void {
    this.handlers?.onAck(frame);
  }

  /** Hands a frame to this node as if it came over pub/sub, bypassing the store (forged, replayed, garbage). */
  inject(frame: Buffer): void {
    this.handlers?.onUpdate(frame);
  }

  private later(f: () => void, delay = 0): void {
    setTimeout(f, delay);
  }

  private async command(): Promise<void> {
    if (!this.connected) throw new TransportError('not_applied', 'not connected');
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    else await Promise.resolve();
    if (!this.connected) throw new TransportError('unknown', 'connection lost before the reply');
  }
}
