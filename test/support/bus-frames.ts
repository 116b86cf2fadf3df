/**
 * Frames for the bus built by hand, the way the publishing node builds them (forged, garbled,
 * wrong-secret and reserved-seq cases of the fault suites).
 */

import { createHmac, randomUUID } from 'node:crypto';
import { createCodec, withSeq, type ClusterNames, type UnsignedUpdate } from '@authcache/protocol';
import { Redis, type ChainableCommander } from 'ioredis';

export type UpdateSpec = Pick<UnsignedUpdate, 'kind' | 'body'>;

/** A frame signed under `secret` carrying `update` at `seq`, with a fresh id. */
export function signedFrame(secret: string, update: UpdateSpec, seq: number): Buffer {
  const full = { ...update, id: randomUUID(), origin: 'fault-test', ts: Date.now() } as UnsignedUpdate;
  return withSeq(createCodec(secret).encode(full), seq);
}

/**
 * A frame around an arbitrary payload, signed as the codec signs (HMAC-SHA256 over the version
 * byte and the payload): lets a test send a correctly signed frame whose content is garbage.
 */
export function rawSignedFrame(secret: string, payload: Buffer, seq: number, version = 1): Buffer {
  const head = Buffer.alloc(9);
  head[0] = version;
  const mac = createHmac('sha256', secret).update(head.subarray(0, 1)).update(payload).digest();
  return withSeq(Buffer.concat([head, payload, mac]), seq);
}

/**
 * Reserves the next `count` seqs the way the publish script does (INCR) and appends to the log the
 * frames `frameAt` returns (undefined: leave that seq out of the log), in one MULTI so that no
 * heartbeat sees the counter ahead of the log; `also` adds commands to the same MULTI (the settings
 * write that goes with a set_settings, an XTRIM). Resolves to the reserved seqs and their frames.
 */
export async function reserveInLog(
  redis: Redis,
  names: ClusterNames,
  count: number,
  frameAt: (seq: number, index: number) => Buffer | undefined,
  also?: (tx: ChainableCommander, seqs: number[]) => void,
): Promise<{ seqs: number[]; frames: Array<Buffer | undefined> }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await redis.watch(names.seq);
    const n = Number((await redis.get(names.seq)) ?? 0);
    const seqs = Array.from({ length: count }, (_, i) => n + 1 + i);
    const frames = seqs.map((s, i) => frameAt(s, i));
    const tx = redis.multi();
    for (let i = 0; i < count; i++) tx.incr(names.seq);
    seqs.forEach((s, i) => {
      const f = frames[i];
      if (f) tx.xadd(names.log, `${s}-0`, 'm', f);
    });
    also?.(tx, seqs);
    const result = await tx.exec();
    // null: someone published in between; take fresh seqs.
    if (result) return { seqs, frames };
  }
  throw new Error('reserveInLog: the seq kept changing under WATCH');
}
