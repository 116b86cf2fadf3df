/**
 * Frames built straight from the documented layout, independently of the codec, so that the
 * tests check the layout the Lua publisher relies on rather than the codec against itself.
 */
import { createHmac } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { UnsignedUpdate } from '@authcache/protocol';

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

const ts = 1_700_000_000_123;

/** One update of each kind and shape, for the codec's tests to encode (codec.test.ts, codec-own-frames.test.ts). */
export const unsigned: UnsignedUpdate[] = [
  { id: 'fa', origin: 'node-a', ts, kind: 'flush_all', body: {} },
  { id: 'fa2', origin: 'node-a', ts, kind: 'flush_all', body: { caches: ['credentials'] } },
  { id: 'fu', origin: 'node-b', ts, kind: 'flush_users', body: { usernames: ['alice', 'Zoë', '\u{1F600}'], caches: ['roles', 'credentials'] } },
  { id: 'ss', origin: 'node-c', ts: 0.5, kind: 'set_settings', body: { scope: 'roles', values: { ttl_ms: 120_000, refresh_ms: 0, max_entries: 9, active_update: false }, persistent: true } },
  { id: 'ss2', origin: 'node-c', ts, kind: 'set_settings', body: { scope: 'all', values: { ttl_ms: 1 }, persistent: true, more: [{ scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] }] } },
];
