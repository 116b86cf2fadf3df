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

interface Unsent {
  origin: string;
  frame: Buffer;
  seq: number;
  at: number;
}

/** Acks never sent, kept for the next reconnect; one older than `keepMs` is no longer waited for. */
export class UnsentAcks {
  private items: Unsent[] = [];

  constructor(
    private readonly keepMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.items.length;
  }

  add(item: Unsent): void {
    if (this.items.length >= MAX_UNSENT) this.items.shift();
    this.items.push(item);
  }

  /** Empties the list; answers the acks still worth sending. */
  take(): Unsent[] {
    const cutoff = this.now() - this.keepMs;
    const out = this.items.filter((i) => i.at >= cutoff);
    this.items = [];
    return out;
  }
}

export interface AckReplyDeps {
  nodeId: string;
  codec: Codec;
  transport: Pick<BusTransport, 'sendAck'>;
  log: Logger;
  waits: AckWaits;
  unsent: UnsentAcks;
  now: () => number;
}

export async function replyToOrigin(d: AckReplyDeps, u: ConfigUpdate, ok: boolean, error?: string): Promise<void> {
  if (u.origin === d.nodeId) return d.waits.record(u.id, d.nodeId, ok, error);
  let frame: Buffer;
  try {
    frame = d.codec.encodeAck({ update_id: u.id, node: d.nodeId, ok, ...(error !== undefined ? { error: error.slice(0, MAX_ACK_ERROR) } : {}) });
  } catch (err) {
    return d.log.warn({ err: (err as Error).message, seq: u.seq }, 'could not sign ack');
  }
  await send(d, { origin: u.origin, frame, seq: u.seq, at: d.now() });
}

/** Sends again what could not be sent before (the transport reconnected). */
export async function resendUnsent(d: AckReplyDeps): Promise<void> {
  for (const item of d.unsent.take()) await send(d, item);
}

async function send(d: AckReplyDeps, item: Unsent): Promise<void> {
  try {
    await d.transport.sendAck(item.origin, item.frame);
  } catch (err) {
    const neverSent = err instanceof TransportError && err.failure === 'not_applied';
    if (neverSent) d.unsent.add(item);
    d.log.warn({ err: (err as Error).message, seq: item.seq, kept: neverSent }, neverSent ? 'could not send ack: kept, sent again on reconnect' : 'could not send ack');
  }
}
