/**
 * The Redis implementation of BusTransport (docs/architecture.md, "Adding a transport"): one
 * command connection, one subscriber connection, and the publish script. It knows frames only
 * as bytes; seq rules, verification and acks are the replicator's. The same class serves a single
 * Redis, Sentinel and Redis Cluster ("Redis topologies"): sharded pub/sub, the epoch tied to the
 * master, and WAIT for replicas are options.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ClusterNames } from '@authcache/protocol';
import type { Metrics } from '../metrics';
import { NotDurableError } from './durability';
import { ROTATE_EPOCH_SCRIPT, publishCall, publishScript } from './publish-script';
import { versionKey } from '../membership/scripts';
import { ReplyLessPublisher } from './reply-less';
import { TransportError, type BusTransport, type LogEntry, type Position, type Published, type StoreOp, type TransportHandlers } from './transport';

export interface RedisTransportOptions {
  /** Commands: fails fast while disconnected (no offline queue), 1 s timeout (see redis.ts). */
  cmd: Redis;
  /** Subscriber mode. */
  sub: Redis;
  names: ClusterNames;
  nodeId: string;
  logMaxLen: number;
  log: Logger;
  metrics: Metrics;
  /** SPUBLISH / SSUBSCRIBE (Redis Cluster); default false. */
  sharded?: boolean;
  /** The master can change (Sentinel, Cluster): tie the epoch to its run_id; default false. */
  trackMaster?: boolean;
  /** Replicas that must confirm each publish (WAIT); 0 or undefined: do not wait. */
  minReplicas?: number;
  /** WAIT's timeout; default 100 ms. */
  replicaWaitMs?: number;
}

/** The former name of NotDurableError (bus/durability.ts), kept for callers that import it from here. */
export { NotDurableError as ReplicationError } from './durability';

type Scripted = Redis & {
  authcachePublish(...args: Array<string | Buffer | number>): Promise<PublishReply>;
  authcacheRotateEpoch(seq: string, epoch: string, master: string, fresh: string): Promise<[string, string]>;
};

/** Messages ioredis gives when a command was never written to the socket. */
const NEVER_SENT = [/Stream isn't writeable/i, /ECONNREFUSED/, /ENOTFOUND/, /EHOSTUNREACH/, /ENETUNREACH/, /EAI_AGAIN/];
/** Redis refused the command before running it: nothing was written. */
const REFUSED_REPLY = /^(OOM|READONLY|NOSCRIPT|BUSY|LOADING|MASTERDOWN|NOAUTH|NOPERM|WRONGPASS|CLUSTERDOWN|MOVED|ASK|TRYAGAIN)\b/;

/**
 * What a failed command means for its effect. Sent-but-unanswered (a timeout, a connection
 * lost before the reply, ioredis giving up on the queue) may have been applied: `unknown`.
 */
export function classify(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as Error & { name?: string };
  const message = e?.message ?? String(err);
  if (NEVER_SENT.some((re) => re.test(message))) return new TransportError('not_applied', message);
  if (e?.name === 'ReplyError' && REFUSED_REPLY.test(message)) return new TransportError('not_applied', message);
  return new TransportError('unknown', message);
}

export class RedisTransport implements BusTransport {
  private readonly cmd: Scripted;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly listeners: Array<[Redis, string, (...a: any[]) => void]> = [];
  private readonly ackChannel: string;
  private readonly sharded: boolean;
  private readonly trackMaster: boolean;
  private readonly minReplicas: number;
  private readonly replicaWaitMs: number;
  private readonly replyLess: ReplyLessPublisher;
  /** The publish script's fixed keys (bus/publish-script.ts), the same for every publish. */
  private readonly fixedKeys: Parameters<typeof publishCall>[0];

  constructor(private readonly o: RedisTransportOptions) {
    this.cmd = o.cmd as Scripted;
    this.sharded = o.sharded ?? false;
    this.trackMaster = o.trackMaster ?? false;
    this.minReplicas = o.minReplicas ?? 0;
    this.replicaWaitMs = o.replicaWaitMs ?? 100;
    // No numberOfKeys: the ops decide how many keys one publish touches.
    this.cmd.defineCommand('authcachePublish', { lua: publishScript({ sharded: this.sharded, trackMaster: this.trackMaster }) });
    this.cmd.defineCommand('authcacheRotateEpoch', { numberOfKeys: 3, lua: ROTATE_EPOCH_SCRIPT });
    this.ackChannel = o.names.acksFor(o.nodeId);
    const n = o.names;
    this.fixedKeys = { seq: n.seq, log: n.log, epoch: n.epoch, membersVersion: versionKey(n.members), ...(this.trackMaster ? { epochMaster: n.epochMaster } : {}) };
    this.replyLess = new ReplyLessPublisher(o.cmd);
  }

  async start(h: TransportHandlers): Promise<void> {
    const onMessage = (channel: Buffer, message: Buffer) => {
      const name = channel.toString();
      if (name === this.ackChannel) h.onAck(message);
      else if (name === this.o.names.updates) h.onUpdate(message);
    };
    if (this.sharded) {
      // Both channels carry the cluster's hash tag: one SSUBSCRIBE, on the shard that holds the slot.
      this.on(this.o.sub, 'smessageBuffer', onMessage);
      await this.o.sub.ssubscribe(this.o.names.updates, this.ackChannel);
      // A shard's failover or a moved slot re-creates / re-subscribes the sharded subscribers:
      // updates may have been missed meanwhile.
      for (const event of ['+subscriber', 'subscribersReady']) this.on(this.o.sub, event, () => h.onReconnect());
    } else {
      this.on(this.o.sub, 'messageBuffer', onMessage);
      await this.o.sub.subscribe(this.o.names.updates, this.ackChannel);
    }
    // Acks go reply-less where the connection may (bus/reply-less.ts); asked again on every new connection.
    if (!this.sharded) {
      this.on(this.o.cmd, 'close', () => this.replyLess.disable());
      this.on(this.o.cmd, 'ready', () => void this.replyLess.probe());
      if (this.o.cmd.status === 'ready') await this.replyLess.probe();
    }
    for (const [name, conn] of [['commands', this.o.cmd], ['subscriber', this.o.sub]] as const) {
      this.on(conn, 'ready', () => {
        this.o.metrics.reconnects.labels(name).inc();
        this.o.log.info({ connection: name }, 'redis connection ready: checking for missed updates');
        h.onReconnect();
      });
    }
  }

  async stop(): Promise<void> {
    for (const [conn, event, fn] of this.listeners.splice(0)) conn.off(event, fn);
  }

  isReady(): boolean {
    return this.o.cmd.status === 'ready';
  }

  async position(): Promise<Position> {
    return this.trackMaster ? this.trackedPosition() : this.plainPosition();
  }

  /**
   * Where the master can change: the epoch counts only if it belongs to the master answering now.
   * Read with plain reads (so it works while writes are paused); rotated by a script only when
   * another master's epoch is found, i.e. once per failover.
   */
  private async trackedPosition(): Promise<Position> {
    const n = this.o.names;
    try {
      // One pipeline: the same connection, hence the same server, answers both.
      const res = await this.o.cmd.pipeline().mget(n.seq, n.epoch, n.epochMaster).info('server').exec();
      const [[e1, values], [e2, info]] = res as [[Error | null, Array<string | null>], [Error | null, string]];
      if (e1 || e2) throw e1 ?? e2;
      const [seq, epoch, master] = values;
      const run = /run_id:([0-9a-f]+)/.exec(info)?.[1];
      if (epoch != null && master === run) return { seq: Number(seq ?? 0), epoch };
      const [seqNow, epochNow] = await this.cmd.authcacheRotateEpoch(n.seq, n.epoch, n.epochMaster, randomUUID());
      if (epoch != null) this.o.log.warn({ master: run }, 'a new redis master (failover or restart): new epoch, every node flushes once');
      return { seq: Number(seqNow), epoch: epochNow };
    } catch (err) {
      throw classify(err);
    }
  }

  private async plainPosition(): Promise<Position> {
    const n = this.o.names;
    try {
      const [seq, epoch] = await this.o.cmd.mget(n.seq, n.epoch);
      if (epoch != null) return { seq: Number(seq ?? 0), epoch };
      // First use, or the store lost its state: a new life. Written only then, so that a heartbeat
      // keeps working while writes are paused.
      const res = await this.o.cmd.multi().set(n.epoch, randomUUID(), 'NX').mget(n.seq, n.epoch).exec();
      const [seqAgain, epochNow] = (res?.[1]?.[1] as Array<string | null> | undefined) ?? [null, null];
      return { seq: Number(seqAgain ?? 0), epoch: epochNow ?? '' };
    } catch (err) {
      throw classify(err);
    }
  }

  async publish(frame: Buffer, ops: readonly StoreOp[]): Promise<Published> {
    if (!this.isReady()) throw new TransportError('not_applied', `redis is not connected (${this.o.cmd.status})`);
    // Without the subscriber no ack could be heard: every member would be reported timed out after
    // the full wait, though each applied it. Refused instead, nothing written (a reconnect, e.g. the
    // subscriber following the commands to a new master: redis.ts, subscriberFollows). 'ready' is
    // set as ioredis sends its SUBSCRIBE again, a moment before Redis confirms it: acks, a hop
    // later, arrive after. A Redis Cluster's status stays 'ready' while one shard's subscriber
    // reconnects: there the check catches only a client that is down as a whole.
    if (this.o.sub.status !== 'ready') throw new TransportError('not_applied', `redis subscriber is not connected (${this.o.sub.status}): the acks of an update published now could not be heard`);
    const call = publishCall(this.fixedKeys, frame, this.o.logMaxLen, this.o.names.updates, randomUUID(), ops);
    if (this.minReplicas > 0) return this.publishAndWait(call.keys, call.args);
    let reply: PublishReply;
    try {
      reply = await this.cmd.authcachePublish(call.keys.length, ...call.keys, ...call.args);
    } catch (err) {
      throw classify(err);
    }
    return publishedOf(reply);
  }

  /**
   * The script and WAIT in one pipeline: the same connection, so WAIT counts the replicas that hold
   * this write (docs/architecture.md, "Redis topologies"); on a Redis Cluster the keyed script
   * takes the keyless WAIT to the shard of the slot. Fewer than required: a NotDurableError, thrown after the publish
   * (bus/durability.ts), so that the replicator still collects the acks.
   */
  private async publishAndWait(keys: string[], args: Array<string | Buffer | number>): Promise<Published> {
    let res: Array<[Error | null, unknown]> | null;
    try {
      const p = this.cmd.pipeline() as unknown as { authcachePublish(...a: unknown[]): unknown; call(...a: unknown[]): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
      p.authcachePublish(keys.length, ...keys, ...args);
      p.call('WAIT', this.minReplicas, this.replicaWaitMs);
      res = await p.exec();
    } catch (err) {
      throw classify(err);
    }
    const [published, waited] = res ?? [];
    if (!published || published[0]) throw classify(published?.[0] ?? new Error('no reply to the publish'));
    const out = publishedOf(published[1] as PublishReply);
    // The write is in: a failed WAIT says nothing of the replicas, so the outcome is unknown.
    const replicated = waited && !waited[0] ? Number(waited[1]) : 0;
    if (replicated < this.minReplicas) throw new NotDurableError(out.seq, replicated, this.minReplicas);
    return out;
  }

  async readLog(from: number, to: number): Promise<LogEntry[]> {
    if (to < from) return [];
    try {
      const entries = await this.o.cmd.xrangeBuffer(this.o.names.log, `${from}-0`, `${to}-0`);
      const out: LogEntry[] = [];
      for (const [id, fields] of entries) {
        const seq = Number.parseInt(id.toString(), 10);
        const at = fields.findIndex((f, i) => i % 2 === 0 && f.toString() === 'm');
        // An entry without a frame is kept as an empty one: present, and unverifiable.
        out.push({ seq, frame: at >= 0 && fields[at + 1] ? fields[at + 1]! : Buffer.alloc(0) });
      }
      return out;
    } catch (err) {
      throw classify(err);
    }
  }

  async sendAck(origin: string, frame: Buffer): Promise<void> {
    try {
      const channel = this.o.names.acksFor(origin);
      if (this.replyLess.tryPublish(channel, frame)) return;
      await (this.sharded ? this.o.cmd.spublish(channel, frame) : this.o.cmd.publish(channel, frame));
    } catch (err) {
      throw classify(err);
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private on(conn: Redis, event: string, fn: (...a: any[]) => void): void {
    conn.on(event, fn);
    this.listeners.push([conn, event, fn]);
  }
}

/** The publish script's answer: {seq, members version} or {'guard', key} (bus/publish-script.ts). */
type PublishReply = [number, string] | ['guard', string];

function publishedOf(reply: PublishReply): Published {
  if (reply[0] === 'guard') throw new TransportError('guard', `guard on ${String(reply[1])} did not hold: nothing written`, String(reply[1]));
  return { seq: Number(reply[0]), membersVersion: String(reply[1]) };
}
