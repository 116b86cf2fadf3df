/**
 * How a node answers an update it applied (docs/architecture.md, "Acks"): to the origin's own ack
 * channel, signed; the origin's answer to itself goes straight into its open waits, without the
 * transport. A send that fails costs a log line only: the origin reports that node as timed out.
 */
import type { Logger } from 'pino';
import type { Codec, ConfigUpdate } from '@authcache/protocol';
import type { AckWaits } from './acks';
import type { BusTransport } from './transport';

/** Error texts carried in an ack are cut to this many characters. */
const MAX_ACK_ERROR = 200;

export interface AckReplyDeps {
  nodeId: string;
  codec: Codec;
  transport: Pick<BusTransport, 'sendAck'>;
  log: Logger;
  waits: AckWaits;
}

export async function replyToOrigin(d: AckReplyDeps, u: ConfigUpdate, ok: boolean, error?: string): Promise<void> {
  if (u.origin === d.nodeId) return d.waits.record(u.id, d.nodeId, ok, error);
  try {
    const frame = d.codec.encodeAck({ update_id: u.id, node: d.nodeId, ok, ...(error !== undefined ? { error: error.slice(0, MAX_ACK_ERROR) } : {}) });
    await d.transport.sendAck(u.origin, frame);
  } catch (err) {
    d.log.warn({ err: (err as Error).message, seq: u.seq }, 'could not send ack');
  }
}
