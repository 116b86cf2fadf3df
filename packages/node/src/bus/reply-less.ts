/**
 * Acks without Redis's answer (docs/architecture.md, "Acks"). An ack is worth nothing to its
 * sender once sent: a lost one makes the origin report this node as timed out, whatever PUBLISH
 * would have answered. Yet the answer costs every node a wake-up per update (read, parse,
 * resolve) and Redis a write per node; at 32 nodes on 2 cores that was a fifth of a follower's
 * work per flush. So the ack goes as `CLIENT REPLY SKIP` + `PUBLISH`, written straight onto the
 * command connection's socket: Redis answers neither, and ioredis, which never saw them, still
 * pairs every reply it gets with the command it sent (Redis answers in order, and these two add
 * nothing to the stream of answers).
 *
 * That holds only if Redis really skips: a user whose ACL forbids `CLIENT REPLY` would get two
 * error answers ioredis would take for its own commands'. So the connection is probed once with
 * `CLIENT REPLY ON` (the same ACL rule, answered normally) and used reply-less only when that
 * succeeded; otherwise, and whenever the connection is not ready, the caller publishes as usual.
 */
import type { Redis } from 'ioredis';

interface Writable {
  write(chunk: Buffer): boolean;
  writable?: boolean;
}

const SKIP = Buffer.from('*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n');

/** The RESP of `CLIENT REPLY SKIP` then `PUBLISH channel message`, in one buffer (one write, never split by another command's). */
export function replyLessPublishCommand(channel: Buffer, message: Buffer): Buffer {
  const head = Buffer.from(`*3\r\n$7\r\nPUBLISH\r\n$${channel.length}\r\n`);
  const mid = Buffer.from(`\r\n$${message.length}\r\n`);
  return Buffer.concat([SKIP, head, channel, mid, message, Buffer.from('\r\n')]);
}

export class ReplyLessPublisher {
  private allowed = false;

  constructor(private readonly conn: Redis) {}

  /** Whether the probe found `CLIENT REPLY` allowed (false until probe() resolved). */
  get enabled(): boolean {
    return this.allowed;
  }

  /** Asks Redis, through ioredis, whether this connection may use CLIENT REPLY; never throws. */
  async probe(): Promise<boolean> {
    try {
      this.allowed = (await this.conn.call('CLIENT', 'REPLY', 'ON')) === 'OK';
    } catch {
      this.allowed = false;
    }
    return this.allowed;
  }

  /** The connection closed: its successor is probed before it is used reply-less. */
  disable(): void {
    this.allowed = false;
  }

  /** Writes the PUBLISH reply-less if it can; false: not sent, publish the ordinary way. */
  tryPublish(channel: string, message: Buffer): boolean {
    const stream = (this.conn as unknown as { stream?: Writable | null }).stream;
    if (!this.allowed || this.conn.status !== 'ready' || !stream || stream.writable === false) return false;
    stream.write(replyLessPublishCommand(Buffer.from(channel), message));
    return true;
  }
}
