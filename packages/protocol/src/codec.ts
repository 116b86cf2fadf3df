/**
 * Binary frames of ConfigUpdate messages:
 *
 *   [0]            PROTOCOL_VERSION
 *   [1, 9)         seq, uint64 big-endian; outside the signature because Redis assigns it at publish time
 *   [9, len-32)    msgpack of {v, id, origin, ts, kind, body}
 *   [len-32, len)  HMAC-SHA256(secret, byte 0 || msgpack bytes)
 *
 * Leaving the seq unsigned gives nothing to an attacker that write access to Redis does not
 * already give: dropping, delaying or replaying frames and rewriting the seq counter itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, validateEnvelope } from './messages';
import type { ConfigUpdate, UnsignedUpdate } from './messages';

export type RejectReason = 'too_short' | 'too_large' | 'version' | 'signature' | 'malformed' | 'invalid';
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze([
  'too_short',
  'too_large',
  'version',
  'signature',
  'malformed',
  'invalid',
] as const);

export type DecodeResult = { ok: true; update: ConfigUpdate } | { ok: false; reason: RejectReason; detail: string };

export interface Codec {
  /** Signed frame with seq 0; the publisher (a Redis Lua script) writes the real seq into bytes [1,9). */
  encode(update: UnsignedUpdate): Buffer;
  /** Never throws, whatever the input. */
  decode(frame: Buffer): DecodeResult;
}

export const FRAME_SEQ_OFFSET = 1;
export const FRAME_HEADER_BYTES = 9;
export const SIGNATURE_BYTES = 32;
/** Header, at least one byte of msgpack, signature. */
export const MIN_FRAME_BYTES = FRAME_HEADER_BYTES + 1 + SIGNATURE_BYTES;

const TWO_32 = 0x1_0000_0000;
/** The high 32 bits of Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** Copy of `frame` with its seq set: what the publishing Lua script does. */
export function withSeq(frame: Buffer, seq: number): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`seq must be a safe integer >= 0, got ${seq}`);
  if (frame.length < FRAME_HEADER_BYTES) throw new RangeError(`frame of ${frame.length} bytes has no seq field`);
  const out = Buffer.from(frame);
  out.writeUInt32BE(Math.floor(seq / TWO_32), FRAME_SEQ_OFFSET);
  out.writeUInt32BE(seq >>> 0, FRAME_SEQ_OFFSET + 4);
  return out;
}

/** The seq in a frame's header; undefined if the frame is too short or the seq is beyond Number.MAX_SAFE_INTEGER. */
export function readSeq(frame: Buffer): number | undefined {
  if (frame.length < FRAME_HEADER_BYTES) return undefined;
  const high = frame.readUInt32BE(FRAME_SEQ_OFFSET);
  if (high > MAX_SAFE_HIGH) return undefined;
  return high * TWO_32 + frame.readUInt32BE(FRAME_SEQ_OFFSET + 4);
}

function reject(reason: RejectReason, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

function describe(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

function isPlainObject(x: unknown): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Throws only if the secret is empty (or not a string/Buffer). */
export function createCodec(secret: string | Buffer): Codec {
  if (typeof secret !== 'string' && !Buffer.isBuffer(secret)) throw new TypeError('cluster secret must be a string or a Buffer');
  // Copied so that a caller reusing its buffer cannot change the key under us.
  const key = Buffer.from(secret);
  if (key.length === 0) throw new RangeError('cluster secret must not be empty');

  // One instance for both directions; without records every map decodes as a plain object.
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  const version = Buffer.from([PROTOCOL_VERSION]);

  function mac(frame: Buffer, payloadEnd: number): Buffer {
    return createHmac('sha256', key)
      .update(frame.subarray(0, 1))
      .update(frame.subarray(FRAME_HEADER_BYTES, payloadEnd))
      .digest();
  }

  function encode(update: UnsignedUpdate): Buffer {
    // Validated before signing so that a frame this codec produces is one every node accepts.
    const checked = validateEnvelope(
      { v: PROTOCOL_VERSION, id: update.id, origin: update.origin, ts: update.ts, kind: update.kind, body: update.body },
      0,
    );
    if (!checked.ok) throw new TypeError(`invalid ConfigUpdate: ${checked.error}`);
    const { v, id, origin, ts, kind, body } = checked.value;
    const payload = packr.pack({ v, id, origin, ts, kind, body });
    const length = FRAME_HEADER_BYTES + payload.length + SIGNATURE_BYTES;
    if (length > MAX_FRAME_BYTES) {
      throw new RangeError(`ConfigUpdate frame of ${length} bytes exceeds the limit of ${MAX_FRAME_BYTES} bytes`);
    }
    const frame = Buffer.alloc(length);
    version.copy(frame, 0);
    frame.set(payload, FRAME_HEADER_BYTES);
    mac(frame, length - SIGNATURE_BYTES).copy(frame, length - SIGNATURE_BYTES);
    return frame;
  }

  function decode(input: Buffer): DecodeResult {
    try {
      // Typed as Buffer, but JavaScript callers and the bus may hand over anything.
      const raw: unknown = input;
      if (!(raw instanceof Uint8Array)) return reject('malformed', 'frame must be a Buffer or Uint8Array');
      const frame = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      const length = frame.length;
      if (length > MAX_FRAME_BYTES) return reject('too_large', `frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
      if (length < MIN_FRAME_BYTES) return reject('too_short', `frame of ${length} bytes is shorter than ${MIN_FRAME_BYTES}`);
      if (frame[0] !== PROTOCOL_VERSION) return reject('version', `frame version ${frame[0]}, expected ${PROTOCOL_VERSION}`);
      const payloadEnd = length - SIGNATURE_BYTES;
      if (!timingSafeEqual(mac(frame, payloadEnd), frame.subarray(payloadEnd))) {
        return reject('signature', 'HMAC-SHA256 does not match the cluster secret');
      }
      let envelope: unknown;
      try {
        envelope = packr.unpack(frame.subarray(FRAME_HEADER_BYTES, payloadEnd));
      } catch (e) {
        return reject('malformed', `msgpack: ${describe(e)}`);
      }
      if (!isPlainObject(envelope)) return reject('malformed', 'msgpack payload is not a map');
      const seq = readSeq(frame);
      if (seq === undefined) return reject('invalid', 'seq: beyond Number.MAX_SAFE_INTEGER');
      const checked = validateEnvelope(envelope, seq);
      if (!checked.ok) return reject('invalid', checked.error);
      return { ok: true, update: checked.value };
    } catch (e) {
      // Unreachable by design; kept so that a bug here costs one message, not the subscriber.
      return reject('malformed', `decode failed: ${describe(e)}`);
    }
  }

  return { encode, decode };
}
