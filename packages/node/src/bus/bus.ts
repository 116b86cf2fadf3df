import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { withSeq, type Propagation, type ClusterNames, type Codec, type ConfigUpdate, type RejectReason, type UnsignedUpdate } from '@authcache/protocol';
import type { Metrics } from '../metrics';
import type { SettingsWrite } from '../cache/settings';
import { PUBLISH_SCRIPT } from './publish-script';
import { checkSync, decide, planCatchUp } from './sequencer';
import type { ExpectedMembers } from '../membership';
import { isComplete, record, summarize, type AckWaiter } from './acks';

export type { Propagation };

export interface BusOptions {
  cmd: Redis;
  sub: Redis;
  names: ClusterNames;
  codec: Codec;
  nodeId: string;
  log: Logger;
  metrics: Metrics;
  logMaxLen: number;
  ackTimeoutMs: number;
  heartbeatMs: number;
  /** Applies one update to this node's state; throwing makes the node flush everything and nack. */
  apply(update: ConfigUpdate): void;
  /** Brings the node back to a state it can trust after updates were lost: flush all, reload settings. */
  resync(reason: 'gap' | 'reset' | 'apply_failed'): Promise<void>;
  /** The members expected to acknowledge an update, read while it is published. */
  members(): Promise<ExpectedMembers>;
  now?: () => number;
}

type RedisPipelineWithPublish = ReturnType<Redis['pipeline']> & {
  authcachePublish(...args: Array<string | Buffer | number>): RedisPipelineWithPublish;
};

/** Only acks for recent updates are sent during a catch-up; nobody waits for older ones. */
const ACK_HORIZON_MS = 30_000;
const SEEN_IDS = 10_000;

/** Why a frame was not applied: the codec's reasons, and the bus's own. */
export type Rejection = RejectReason | 'unexpected_kind' | 'replayed' | 'bad_seq';
const REJECT_LOG_INTERVAL_MS = 10_000;

/**
 * The Redis side of propagation: publishes ConfigUpdates, applies received ones strictly in seq
 * order (filling gaps from the log, flushing when the log lost them), checks the cluster's seq on
 * every heartbeat and reconnect, and tracks how long ago the node last confirmed it is in sync.
 */
export class Bus {
  private applied = 0;
  private epoch: string | undefined;
  private lastSyncAt = 0;
  private started = false;
  private stopped = false;
  private readonly early: Buffer[] = [];
  private chain: Promise<void> = Promise.resolve();
  private readonly waiters = new Map<string, AckWaiter>();
  private readonly lastRejectLog = new Map<Rejection, number>();
  /** Ids of recently applied updates: a signed frame published again under a new seq is a replay. */
  private readonly seenIds = new Map<string, true>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly now: () => number;
  private readonly ackChannel: string;

  constructor(private readonly o: BusOptions) {
    this.now = o.now ?? Date.now;
    this.ackChannel = o.names.acksFor(o.nodeId);
    (o.cmd as Redis).defineCommand('authcachePublish', { numberOfKeys: 5, lua: PUBLISH_SCRIPT });
    o.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
  }

  get appliedSeq(): number {
    return this.applied;
  }

  /** Milliseconds since the node last confirmed it had every update (Infinity before the first). */
  syncAgeMs(): number {
    return this.lastSyncAt === 0 ? Infinity : this.now() - this.lastSyncAt;
  }

  async subscribe(): Promise<void> {
    await this.o.sub.subscribe(this.o.names.updates, this.ackChannel);
  }

  /** Reads the cluster's position; call before loading state, then `start` with it. */
  async position(): Promise<{ seq: number; epoch: string; asOf: number }> {
    const asOf = this.now();
    await this.o.cmd.set(this.o.names.epoch, randomUUID(), 'NX');
    const [seq, epoch] = await this.o.cmd.mget(this.o.names.seq, this.o.names.epoch);
    return { seq: Number(seq ?? 0), epoch: epoch ?? '', asOf };
  }

  /** Starts applying from `pos` (state loaded as of that position) and starts the heartbeat. */
  start(pos: { seq: number; epoch: string; asOf: number }): void {
    this.applied = pos.seq;
    this.epoch = pos.epoch;
    this.confirm(pos.asOf);
    this.started = true;
    this.o.metrics.appliedSeq.set(this.applied);
    for (const frame of this.early.splice(0)) this.enqueue(() => this.handleUpdate(frame, true));
    this.timer = setInterval(() => void this.tick(), this.o.heartbeatMs);
    this.timer.unref();
    for (const [name, conn] of [['commands', this.o.cmd], ['subscriber', this.o.sub]] as const) {
      conn.on('ready', () => {
        this.o.metrics.reconnects.labels(name).inc();
        this.o.log.info({ connection: name }, 'redis connection ready: checking for missed updates');
        void this.tick();
      });
    }
  }

  /** Publishes an update and waits (bounded) for every live member to acknowledge it. */
  async publish(update: Omit<UnsignedUpdate, 'id' | 'origin' | 'ts'>, writes: readonly SettingsWrite[] = []): Promise<Propagation> {
    const full = { ...update, id: randomUUID(), origin: this.o.nodeId, ts: this.now() } as UnsignedUpdate;
    const frame = this.o.codec.encode(full);
    const waiter: AckWaiter = { known: false, expected: new Set([this.o.nodeId]), results: new Map(), done: () => undefined };
    const allAcked = new Promise<void>((resolve) => (waiter.done = resolve));
    this.waiters.set(full.id, waiter);
    let timeout: NodeJS.Timeout | undefined;
    try {
      const args: Array<string | Buffer | number> = [frame, this.o.logMaxLen, this.o.names.updates, randomUUID()];
      for (const w of writes) args.push(w.value === undefined ? 'D' : 'S', w.layer === 'transient' ? 4 : 5, w.field, w.value ?? '');
      const n = this.o.names;
      // Who must acknowledge is read in the same round trip as the publish; acks that arrive first are kept.
      const members = this.o.members().catch(() => undefined);
      const pipe = this.o.cmd.pipeline() as unknown as RedisPipelineWithPublish;
      pipe.authcachePublish(n.seq, n.log, n.epoch, n.settingsTransient, n.settingsPersistent, ...args);
      const [[publishErr, seq]] = (await pipe.exec()) as [[Error | null, number]];
      if (publishErr) throw publishErr;
      for (const id of (await members)?.live ?? []) waiter.expected.add(id);
      waiter.known = true;
      if (isComplete(waiter)) waiter.done();
      await Promise.race([allAcked, new Promise<void>((resolve) => (timeout = setTimeout(resolve, this.o.ackTimeoutMs)))]);
      return summarize(Number(seq), waiter);
    } finally {
      clearTimeout(timeout);
      this.waiters.delete(full.id);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Waits until everything received so far has been applied (tests, shutdown). */
  async drain(): Promise<void> {
    await this.chain;
  }

  private onMessage(channel: string, frame: Buffer): void {
    if (this.stopped) return;
    if (channel === this.ackChannel) return this.handleAck(frame);
    if (!this.started) {
      this.early.push(frame);
      return;
    }
    this.enqueue(() => this.handleUpdate(frame, true));
  }

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
    this.o.metrics.busRejected.labels(reason === 'unexpected_kind' ? 'invalid' : reason).inc();
    const last = this.lastRejectLog.get(reason) ?? 0;
    if (this.now() - last >= REJECT_LOG_INTERVAL_MS) {
      this.lastRejectLog.set(reason, this.now());
      this.o.log.warn({ reason, detail }, 'bus message rejected');
    }
  }

  private handleAck(frame: Buffer): void {
    const u = this.decode(frame);
    if (!u) return;
    if (u.kind !== 'ack') return this.reject('unexpected_kind', `${u.kind} on the ack channel`);
    const w = this.waiters.get(u.body.update_id);
    if (!w) return;
    record(w, u.body.node, u.body.ok, u.body.error);
  }

  private async handleUpdate(frame: Buffer, live: boolean): Promise<void> {
    const u = this.decode(frame);
    if (!u) return;
    if (u.kind === 'ack') return this.reject('unexpected_kind', 'ack on the update channel');
    const d = decide(this.applied, u.seq);
    if (d.action === 'duplicate') {
      if (live) await this.ack(u, true);
      return;
    }
    if (d.action === 'gap') {
      // Redis INCRs before it publishes: a seq above the counter was never assigned (a forged or replayed frame).
      const current = Number((await this.o.cmd.get(this.o.names.seq)) ?? 0);
      if (u.seq > current) return this.reject('bad_seq', `seq ${u.seq} is above the cluster's ${current}`);
      await this.catchUp(d.to);
    }
    if (u.seq === this.applied + 1) await this.applyOne(u);
    else if (u.seq <= this.applied && live) await this.ack(u, true); // covered by the catch-up or a resync
  }

  private async applyOne(u: ConfigUpdate): Promise<void> {
    if (this.seenIds.has(u.id)) {
      // Already applied under an earlier seq: keep the sequence moving, change nothing.
      this.reject('replayed', `update ${u.id} at seq ${u.seq} was applied before`);
      this.applied = u.seq;
      this.o.metrics.appliedSeq.set(u.seq);
      return;
    }
    this.seenIds.set(u.id, true);
    if (this.seenIds.size > SEEN_IDS) this.seenIds.delete(this.seenIds.keys().next().value as string);
    let error: string | undefined;
    try {
      this.o.apply(u);
      this.o.metrics.updatesApplied.labels(u.kind).inc();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      this.o.log.error({ err, seq: u.seq, kind: u.kind }, 'update failed to apply: flushing everything');
      await this.o.resync('apply_failed');
    }
    this.applied = u.seq;
    this.o.metrics.appliedSeq.set(u.seq);
    this.o.log.debug({ seq: u.seq, kind: u.kind, origin: u.origin }, 'update applied');
    if (this.now() - u.ts < ACK_HORIZON_MS) await this.ack(u, error === undefined, error);
  }

  /** Reads (applied, target] from the log and applies it, or flushes when the log lost part of it. */
  private async catchUp(target: number): Promise<void> {
    if (target <= this.applied) return;
    const from = this.applied;
    const entries = await this.o.cmd.xrangeBuffer(this.o.names.log, `${from + 1}-0`, `${target}-0`);
    const updates: ConfigUpdate[] = [];
    for (const [, fields] of entries) {
      const frame = fields[1];
      const u = frame ? this.decode(frame) : undefined;
      if (u && u.kind !== 'ack') updates.push(u);
    }
    const plan = planCatchUp(from, target, updates.map((u) => u.seq));
    this.o.metrics.catchUps.inc();
    if (plan.action === 'flush') {
      this.o.metrics.gapFlushes.inc();
      this.o.log.warn({ from: from + 1, to: target, found: updates.length }, 'missed updates are gone from the log: flushing all caches');
      await this.o.resync('gap');
      this.applied = target;
      this.o.metrics.appliedSeq.set(target);
      return;
    }
    this.o.log.info({ from: from + 1, to: target }, 'caught up on missed updates from the log');
    for (const u of updates) await this.applyOne(u);
  }

  /** Anti-entropy: compare with the cluster's seq; catch up or resync; confirm sync. */
  private async tick(): Promise<void> {
    if (!this.started || this.stopped || this.ticking) return;
    this.ticking = true;
    try {
      const asOf = this.now();
      const [seqRaw, epoch] = await this.o.cmd.mget(this.o.names.seq, this.o.names.epoch);
      const current = Number(seqRaw ?? 0);
      await this.enqueue(async () => {
        const check = checkSync(this.applied, this.epoch, current, epoch ?? null);
        if (check.action === 'reset') {
          this.o.metrics.resets.inc();
          this.o.log.warn({ applied: this.applied, current, epochChanged: epoch !== this.epoch }, 'redis lost its state: flushing all caches and resyncing');
          await this.o.cmd.set(this.o.names.epoch, randomUUID(), 'NX');
          this.epoch = (await this.o.cmd.get(this.o.names.epoch)) ?? undefined;
          await this.o.resync('reset');
          this.applied = Number((await this.o.cmd.get(this.o.names.seq)) ?? 0);
          this.o.metrics.appliedSeq.set(this.applied);
        } else if (check.action === 'catch_up') {
          await this.catchUp(check.to);
        }
        this.o.metrics.lag.set(Math.max(0, current - this.applied));
        if (this.applied >= current) this.confirm(asOf);
      });
    } catch (err) {
      this.o.log.debug({ err }, 'heartbeat could not reach redis');
    } finally {
      this.ticking = false;
      this.o.metrics.syncAge.set(Number.isFinite(this.syncAgeMs()) ? this.syncAgeMs() / 1000 : -1);
    }
  }

  private confirm(asOf: number): void {
    if (asOf > this.lastSyncAt) this.lastSyncAt = asOf;
  }

  private async ack(u: ConfigUpdate, ok: boolean, error?: string): Promise<void> {
    const body = { update_id: u.id, node: this.o.nodeId, ok, ...(error !== undefined ? { error: error.slice(0, 200) } : {}) };
    // Our own ack short-circuits: the origin does not need Redis to hear itself.
    const own = this.waiters.get(u.id);
    if (own) {
      record(own, this.o.nodeId, ok, error);
    }
    try {
      const frame = withSeq(this.o.codec.encode({ kind: 'ack', id: randomUUID(), origin: this.o.nodeId, ts: this.now(), body }), u.seq);
      if (u.origin !== this.o.nodeId) await this.o.cmd.publish(this.o.names.acksFor(u.origin), frame);
    } catch (err) {
      this.o.log.warn({ err, seq: u.seq }, 'could not send ack');
    }
  }
}
