/**
 * Propagation without Redis (docs/architecture.md, "Propagation"): publishes updates
 * through a BusTransport and waits for acks; applies received updates strictly in seq order,
 * filling gaps from the log; filters replays; checks the cluster's position on every heartbeat
 * and reconnect, in order with the updates; and tracks how long ago the node last confirmed it
 * had everything (`syncAgeMs`), which is what the node fails closed on. Every seq decision is
 * taken by sequencer.ts; this class only carries it out.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Codec, ConfigUpdate, Propagation, UnsignedUpdate } from '@authcache/protocol';
import type { Metrics } from '../metrics';
import type { ExpectedMembers } from '../membership';
import { AckWaits } from './acks';
import { AckReplies } from './ack-reply';
import { DurabilityWatch } from './durability';
import { RecentIds } from './recent-ids';
import { RejectLog, type Rejection } from './reject-log';
import { checkSync, decide, planCatchUp } from './sequencer';
import type { BusTransport, Position, StoreOp } from './transport';

export type { Propagation };

/** What a publisher hands over: the replicator adds id, origin and ts. */
export type Change = Omit<UnsignedUpdate, 'id' | 'origin' | 'ts'>;

/** A position read before loading state: `asOf` is when the read started (the sync it confirms). */
export interface StartPosition extends Position {
  asOf: number;
}

export type ReplicatorMetrics = Pick<Metrics, 'busRejected' | 'updatesApplied' | 'catchUps' | 'gapFlushes' | 'resets' | 'appliedSeq' | 'lag' | 'syncAge'>;

export interface ReplicatorOptions {
  transport: BusTransport;
  codec: Codec;
  nodeId: string;
  log: Logger;
  metrics: ReplicatorMetrics;
  ackTimeoutMs: number;
  heartbeatMs: number;
  /** Applies one update to this node's state; throwing makes the node flush everything and nack. */
  apply(update: ConfigUpdate): void;
  /** Brings the node back to a state it can trust after updates were lost: flush all, reload settings. */
  resync(reason: 'gap' | 'reset' | 'apply_failed'): Promise<void>;
  /**
   * The members expected to acknowledge an update, asked once it is published: with the members
   * version the publish read at the same instant, when the transport keeps one.
   */
  members(version?: string): Promise<ExpectedMembers>;
  now?: () => number;
}

/** Of a catch-up, only the newest updates are acked: only an origin still waiting needs one, and it waits briefly. */
const ACK_CATCH_UP_WINDOW = 256;
/** Frames received before start() are kept up to this many; the catch-up from the log covers any beyond. */
const MAX_EARLY = 10_000;

export class Replicator {
  private applied = 0;
  private epoch: string | undefined;
  private lastSyncAt = 0;
  private started = false;
  private stopped = false;
  private readonly early: Buffer[] = [];
  private chain: Promise<void> = Promise.resolve();
  private readonly acks = new AckWaits();
  private readonly seenIds = new RecentIds();
  private timer: NodeJS.Timeout | undefined;
  private tickPending = false;
  private readonly now: () => number;
  private readonly rejects: RejectLog;
  private readonly replies: AckReplies;

  constructor(private readonly o: ReplicatorOptions) {
    this.now = o.now ?? Date.now;
    this.rejects = new RejectLog(o.log, (reason) => o.metrics.busRejected.labels(reason).inc(), this.now);
    this.replies = new AckReplies({ nodeId: o.nodeId, codec: o.codec, transport: o.transport, log: o.log, waits: this.acks, ackTimeoutMs: o.ackTimeoutMs, now: this.now });
  }

  get appliedSeq(): number {
    return this.applied;
  }

  /** Milliseconds since the node last confirmed it had every update (Infinity before the first). */
  syncAgeMs(): number {
    return this.lastSyncAt === 0 ? Infinity : this.now() - this.lastSyncAt;
  }

  /** Subscribes; frames received before start() are kept and applied then. */
  async subscribe(): Promise<void> {
    await this.o.transport.start({
      onUpdate: (frame) => this.onUpdate(frame),
      onAck: (frame) => this.onAck(frame),
      onReconnect: () => {
        void this.replies.resend();
        void this.tick();
      },
    });
  }

  /** The cluster's position; read it after subscribe() and before loading state, then start() with it. */
  async position(): Promise<StartPosition> {
    const asOf = this.now();
    return { ...(await this.o.transport.position()), asOf };
  }

  /** Starts applying from `pos` (state loaded as of that position) and starts the heartbeat. */
  start(pos: StartPosition): void {
    this.advance(pos.seq);
    this.epoch = pos.epoch;
    this.confirm(pos.asOf);
    this.started = true;
    for (const frame of this.early.splice(0)) this.enqueue(() => this.handleUpdate(frame));
    this.timer = setInterval(() => void this.tick(), this.o.heartbeatMs);
    this.timer.unref?.();
  }

  /** Publishes `change` with the state writes that go with it, and waits (bounded) for every live member's ack. */
  async publish(change: Change, ops: readonly StoreOp[] = []): Promise<Propagation> {
    const full = { ...change, id: randomUUID(), origin: this.o.nodeId, ts: this.now() } as UnsignedUpdate;
    const frame = this.o.codec.encode(full);
    // Published but not confirmed by enough replicas: the nodes apply it all the same, so its 504 reports their acks (bus/durability.ts).
    const durability = new DurabilityWatch();
    // The publish goes out first, alone: the members version comes back with it, so nothing is sent
    // before it and nothing is read after it unless the members changed (docs/architecture.md, "Membership").
    const p = await this.acks.collect(full.id, this.o.nodeId, this.o.ackTimeoutMs, async () => {
      const published = await durability.published(() => this.o.transport.publish(frame, ops));
      return { seq: published.seq, members: await this.o.members(published.membersVersion).catch(() => undefined) };
    });
    return durability.settle(p);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.o.transport.stop();
  }

  /** Waits until everything received so far has been applied (tests, shutdown). */
  async drain(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.chain) {
      seen = this.chain;
      await seen;
    }
  }

  private onUpdate(frame: Buffer): void {
    if (this.stopped) return;
    if (!this.started) {
      if (this.early.length < MAX_EARLY) this.early.push(frame);
      return;
    }
    this.enqueue(() => this.handleUpdate(frame));
  }

  private onAck(frame: Buffer): void {
    if (this.stopped) return;
    const r = this.o.codec.decodeAck(frame);
    if (!r.ok) return this.reject(r.reason, r.detail);
    this.acks.record(r.ack.update_id, r.ack.node, r.ack.ok, r.ack.error);
  }

  /** One queue for updates and heartbeat checks: everything that reads or moves `applied` runs in order. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work).catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'applying updates failed; the next heartbeat retries'));
    this.chain = next;
    return next;
  }

  private decode(frame: Buffer): ConfigUpdate | undefined {
    const r = this.o.codec.decode(frame);
    if (r.ok) return r.update;
    this.reject(r.reason, r.detail);
    return undefined;
  }

  private reject(reason: Rejection, detail: string): void {
    this.rejects.reject(reason, detail);
  }

  private async handleUpdate(frame: Buffer): Promise<void> {
    // A frame that fails verification is dropped; the gap it leaves is filled from the log, where it is skipped.
    const u = this.decode(frame);
    if (!u) return;
    const d = decide(this.applied, u.seq);
    if (d.action === 'gap') {
      // Read in order, like the heartbeat's: a store that lost its state is reset first, not caught up from.
      const pos = await this.o.transport.position();
      const check = checkSync(this.applied, this.epoch, pos.seq, pos.epoch);
      if (check.action === 'reset') await this.reset(pos, check.to);
      // The store assigns a seq before it broadcasts: one above its counter was never assigned (forged, or replayed).
      if (u.seq > pos.seq) return this.reject('bad_seq', `seq ${u.seq} is above the cluster's ${pos.seq}`);
      await this.catchUp(d.to);
    }
    const now = decide(this.applied, u.seq);
    if (now.action === 'apply') await this.applyOne(u, true);
    // Acked again only if applied here: one covered by a flush, or of another epoch, is not confirmed.
    else if (now.action === 'duplicate' && this.seenIds.has(u.id)) await this.replies.reply(u, true);
  }

  private async applyOne(u: ConfigUpdate, ack: boolean): Promise<void> {
    if (this.seenIds.has(u.id)) {
      // Applied before under an earlier seq: keep the sequence moving, change nothing.
      this.reject('replayed', `update ${u.id} at seq ${u.seq} was applied before`);
      this.advance(u.seq);
      return;
    }
    this.seenIds.add(u.id);
    let error: string | undefined;
    try {
      this.o.apply(u);
      this.o.metrics.updatesApplied.labels(u.kind).inc();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      this.o.log.error({ err, seq: u.seq, kind: u.kind }, 'update failed to apply: flushing everything');
      await this.o.resync('apply_failed');
    }
    this.advance(u.seq);
    this.o.log.debug({ seq: u.seq, kind: u.kind, origin: u.origin }, 'update applied');
    if (ack) await this.replies.reply(u, error === undefined, error);
  }

  /** Reads (applied, target] from the log and applies it as planCatchUp says, or flushes when the log lost part of it. */
  private async catchUp(target: number): Promise<void> {
    if (target <= this.applied) return;
    const from = this.applied;
    const entries = await this.o.transport.readLog(from + 1, target);
    const plan = planCatchUp(from, target, entries.map((e) => e.seq));
    this.o.metrics.catchUps.inc();
    if (plan.action === 'flush') {
      this.o.metrics.gapFlushes.inc();
      this.o.log.warn({ from: from + 1, to: target, found: entries.length }, 'missed updates are gone from the log: flushing all caches');
      await this.o.resync('gap');
      this.advance(plan.to);
      return;
    }
    const frames = new Map(entries.map((e) => [e.seq, e.frame]));
    let skipped = 0;
    for (const seq of plan.seqs) {
      const u = this.decode(frames.get(seq)!);
      // An entry that fails verification (another secret, garbage) was never a valid update: nothing was lost.
      if (!u || u.seq !== seq) {
        if (u) this.reject('bad_seq', `log entry ${seq} carries seq ${u.seq}`);
        skipped++;
        this.advance(seq);
        continue;
      }
      await this.applyOne(u, target - seq < ACK_CATCH_UP_WINDOW);
    }
    this.o.log.info({ from: from + 1, to: target, skipped }, 'caught up on missed updates from the log');
  }

  /** Anti-entropy: the position is read inside the queue, so no update applied meanwhile can make it look like a loss. */
  private async tick(): Promise<void> {
    if (!this.started || this.stopped || this.tickPending) return;
    this.tickPending = true;
    await this.enqueue(async () => {
      try {
        const asOf = this.now();
        const pos = await this.o.transport.position();
        const check = checkSync(this.applied, this.epoch, pos.seq, pos.epoch);
        if (check.action === 'reset') await this.reset(pos, check.to);
        else if (check.action === 'catch_up') await this.catchUp(check.to);
        this.o.metrics.lag.set(Math.max(0, pos.seq - this.applied));
        if (this.applied >= pos.seq) this.confirm(asOf);
      } catch (err) {
        this.o.log.debug({ err: (err as Error).message }, 'heartbeat could not reach the cluster');
      } finally {
        this.tickPending = false;
        const age = this.syncAgeMs();
        this.o.metrics.syncAge.set(Number.isFinite(age) ? age / 1000 : -1);
      }
    });
  }

  /** The store lost its state (new epoch) or its tail (seq behind ours): flush, reload, resume at `to`. */
  private async reset(pos: Position, to: number): Promise<void> {
    this.o.metrics.resets.inc();
    this.o.log.warn({ applied: this.applied, current: pos.seq, epochChanged: pos.epoch !== this.epoch }, 'redis lost its state: flushing all caches and resyncing');
    await this.o.resync('reset');
    // Adopted only once resynced: should the resync fail, the next reading resets again.
    this.epoch = pos.epoch;
    this.advance(to, true);
  }

  /** Moves `applied` forward (or, after a reset, to wherever the store restarted). */
  private advance(seq: number, reset = false): void {
    if (seq <= this.applied && !reset) return;
    this.applied = seq;
    this.o.metrics.appliedSeq.set(seq);
  }

  private confirm(asOf: number): void {
    if (asOf > this.lastSyncAt) this.lastSyncAt = asOf;
  }
}
