/**
 * How a node answers an update it applied (docs/architecture.md, "Acks"): to the origin's own ack
 * channel, signed; the origin's answer to itself goes straight into its open waits, without the
 * transport. An ack that was never sent (the command connection down or reconnecting) is kept and
 * sent again when the transport reconnects, while its origin may still be waiting: otherwise a
 * node that applied the update would be reported as timed out. Any other failure costs a log line:
 * the origin reports that node as timed out.
 */
import type { Logger } from 'pino';
import type { Codec, ConfigUpdate } from '@authcache/protocol';
import type { AckWaits } from './acks';
import { TransportError, type BusTransport } from './transport';

/** Error texts carried in an ack are cut to this many characters. */
const MAX_ACK_ERROR = 200;
/** Unsent acks kept at most: beyond, the oldest go (their origins are the likeliest to have stopped waiting). */
const MAX_UNSENT = 256;

export interface AckRepliesOptions {
  nodeId: string;
  codec: Codec;
  transport: Pick<BusTransport, 'sendAck'>;
  log: Logger;
  /** This node's own open waits: its answer to itself goes there. */
  waits: AckWaits;
  /** How long an origin waits for acks: an unsent ack older than this is not sent again. */
  ackTimeoutMs: number;
  now: () => number;
}

interface Unsent {
  origin: string;
  frame: Buffer;
  seq: number;
  /** When its send first failed. */
  at: number;
}

export class AckReplies {
  private unsent: Unsent[] = [];

  constructor(private readonly o: AckRepliesOptions) {}

  /** Answers the origin of `u`: applied (`ok`) or not, with the error. */
  async reply(u: ConfigUpdate, ok: boolean, error?: string): Promise<void> {
    const o = this.o;
    if (u.origin === o.nodeId) return o.waits.record(u.id, o.nodeId, ok, error);
    let frame: Buffer;
    try {
      frame = o.codec.encodeAck({ update_id: u.id, node: o.nodeId, ok, ...(error !== undefined ? { error: error.slice(0, MAX_ACK_ERROR) } : {}) });
    } catch (err) {
      return o.log.warn({ err: (err as Error).message, seq: u.seq }, 'could not sign ack');
    }
    await this.send(u.origin, frame, u.seq);
  }

  /** Sends again what could not be sent before (the transport reconnected), if still waited for. */
  async resend(): Promise<void> {
    const cutoff = this.o.now() - this.o.ackTimeoutMs;
    const due = this.unsent.filter((i) => i.at >= cutoff);
    this.unsent = [];
    for (const i of due) await this.send(i.origin, i.frame, i.seq, i.at);
  }

  private async send(origin: string, frame: Buffer, seq: number, failedAt?: number): Promise<void> {
    try {
      await this.o.transport.sendAck(origin, frame);
    } catch (err) {
      const neverSent = err instanceof TransportError && err.failure === 'not_applied';
      if (neverSent) {
        if (this.unsent.length >= MAX_UNSENT) this.unsent.shift();
        this.unsent.push({ origin, frame, seq, at: failedAt ?? this.o.now() });
      }
      this.o.log.warn({ err: (err as Error).message, seq, kept: neverSent }, neverSent ? 'could not send ack: kept, sent again on reconnect' : 'could not send ack');
    }
  }
}
