/**
 * Frames built straight from the documented layout, independently of the codec, so that the
 * tests check the layout the Lua publisher relies on rather than the codec against itself.
 */
import { createHmac } from 'node:crypto';
import { Packr } from 'msgpackr';

export const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface CraftOptions {
  secret?: string | Buffer;
  version?: number;
  seq?: bigint;
}

export function craft(payload: Uint8Array, { secret = 'secret', version = 1, seq = 0n }: CraftOptions = {}): Buffer {
  const header = Buffer.alloc(9);
  header[0] = version;
  header.writeBigUInt64BE(seq, 1);
  const sig = createHmac('sha256', secret).update(header.subarray(0, 1)).update(payload).digest();
  return Buffer.concat([header, payload, sig]);
}

/** A signed frame whose msgpack payload is `value`, whatever it is. */
export function craftValue(value: unknown, options?: CraftOptions): Buffer {
  return craft(packr.pack(value), options);
}
