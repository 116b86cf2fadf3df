/**
 * The Redis implementation of BusTransport (docs/architecture.md, "Adding a transport"): one
 * command connection, one subscriber connection, and the publish script. It knows frames only
 * as bytes; seq rules, verification and acks are the replicator's.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ClusterNames } from '@authcache/protocol';
import type { Metrics } from '../metrics';
import { PUBLISH_SCRIPT, publishCall } from './publish-script';
import { TransportError, type BusTransport, type LogEntry, type Position, type StoreOp, type TransportHandlers } from './transport';

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
}

type WithPublish = Redis & { authcachePublish(...args: Array<string | Buffer | number>): Promise<number | string[]> };

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
  private readonly cmd: WithPublish;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly listeners: Array<[Redis, string, (...a: any[]) => void]> = [];
  private readonly ackChannel: string;

  constructor(private readonly o: RedisTransportOptions) {
    this.cmd = o.cmd as WithPublish;
    // No numberOfKeys: the ops decide how many keys one publish touches.
    this.cmd.defineCommand('authcachePublish', { lua: PUBLISH_SCRIPT });
    this.ackChannel = o.names.acksFor(o.nodeId);
  }

  async start(h: TransportHandlers): Promise<void> {
    this.on(this.o.sub, 'messageBuffer', (channel: Buffer, message: Buffer) => {
      const name = channel.toString();
      if (name === this.ackChannel) h.onAck(message);
      else if (name === this.o.names.updates) h.onUpdate(message);
    });
    await this.o.sub.subscribe(this.o.names.updates, this.ackChannel);
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

  async publish(frame: Buffer, ops: readonly StoreOp[]): Promise<number> {
    if (!this.isReady()) throw new TransportError('not_applied', `redis is not connected (${this.o.cmd.status})`);
    const n = this.o.names;
    const call = publishCall({ seq: n.seq, log: n.log, epoch: n.epoch }, frame, this.o.logMaxLen, n.updates, randomUUID(), ops);
    let reply: number | string[];
    try {
      reply = await this.cmd.authcachePublish(call.keys.length, ...call.keys, ...call.args);
    } catch (err) {
      throw classify(err);
    }
    if (Array.isArray(reply)) throw new TransportError('guard', `guard on ${String(reply[1])} did not hold: nothing written`, String(reply[1]));
    return Number(reply);
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
      await this.o.cmd.publish(this.o.names.acksFor(origin), frame);
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
