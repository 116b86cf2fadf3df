/**
 * Binary frames of bus messages (ConfigUpdates and acks):
 *
 *   [0]            type byte: PROTOCOL_VERSION in the low 7 bits; the top bit set for an ack
 *   [1, 9)         seq, uint64 big-endian; outside the signature because Redis assigns it at publish time
 *   [9, len-32)    msgpack of {v, id, origin, ts, kind, body} (update) or {v, update_id, node, ok, error?} (ack)
 *   [len-32, len)  HMAC-SHA256(secret, byte 0 || msgpack bytes)
 *
 * The type byte is signed, so an ack can never be taken for an update nor an update for an ack.
 * Leaving the seq unsigned gives nothing to an attacker that write access to Redis does not
 * already give: dropping, delaying or replaying frames and rewriting the seq counter itself.
 * The publish script writes the seq using the offsets exported here (docs/architecture.md, "Propagation": the frame layout).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, validateAck, validateEnvelope } from './messages';
import { isPlainObject } from './validate';
import type { Ack, AckMessage, ConfigUpdate, UnsignedUpdate } from './messages';

export type RejectReason = 'too_short' | 'too_large' | 'version' | 'signature' | 'malformed' | 'invalid';
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze([
  'too_short',
  'too_large',
  'version',
  'signature',
  'malformed',
  'invalid',
] as const);

export type Rejected = { ok: false; reason: RejectReason; detail: string };
export type DecodeResult = { ok: true; update: ConfigUpdate } | Rejected;
export type AckDecodeResult = { ok: true; ack: AckMessage } | Rejected;

export interface Codec {
  /** Signed frame with seq 0; the publisher (a Redis Lua script) writes the real seq into bytes [1,9). */
  encode(update: UnsignedUpdate): Buffer;
  /** An update frame, or why not. Never throws, whatever the input; an ack frame is `invalid` here. */
  decode(frame: Buffer): DecodeResult;
  /** Signed ack frame (seq 0). */
  encodeAck(ack: Ack): Buffer;
  /** An ack frame, or why not. Never throws; an update frame is `invalid` here. */
  decodeAck(frame: Buffer): AckDecodeResult;
}

export const FRAME_TYPE_OFFSET = 0;
export const FRAME_SEQ_OFFSET = 1;
export const FRAME_SEQ_BYTES = 8;
export const FRAME_HEADER_BYTES = FRAME_SEQ_OFFSET + FRAME_SEQ_BYTES;
export const SIGNATURE_BYTES = 32;
/** The type byte of an update frame. */
export const FRAME_TYPE_UPDATE = PROTOCOL_VERSION;
/** The type byte of an ack frame: same version, top bit set. */
export const FRAME_TYPE_ACK = 0x80 | PROTOCOL_VERSION;
const VERSION_MASK = 0x7f;
/** Header, at least one byte of msgpack, signature. */
export const MIN_FRAME_BYTES = FRAME_HEADER_BYTES + 1 + SIGNATURE_BYTES;

const TWO_32 = 0x1_0000_0000;
/**
 * The updates a codec signed last, kept to recognise them when they come back: the publishing node
 * receives its own frame with the rest, and bytes equal to ones it signed need no HMAC check or
 * msgpack decode to be trusted (the seq, outside the signature, is read as from any frame). It is
 * the origin's CPU while the other nodes work on the same two cores (docs/architecture.md, "Propagation").
 */
const OWN_FRAMES = 8;
/** Larger frames (big invalidations) are rare: decoded the long way, not kept. */
const OWN_FRAME_MAX_BYTES = 4096;
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

function reject(reason: RejectReason, detail: string): Rejected {
  return { ok: false, reason, detail };
}

function describe(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}

/** A deep copy of a validated envelope (plain objects, arrays, primitives): what a fresh decode would build. */
function copyOf<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyOf) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyOf(v);
  return out as T;
}

/** Throws only if the secret is empty (or not a string/Buffer). */
export function createCodec(secret: string | Buffer): Codec {
  if (typeof secret !== 'string' && !Buffer.isBuffer(secret)) throw new TypeError('cluster secret must be a string or a Buffer');
  // Copied so that a caller reusing its buffer cannot change the key under us.
  const key = Buffer.from(secret);
  if (key.length === 0) throw new RangeError('cluster secret must not be empty');

  // One instance for both directions; without records every map decodes as a plain object.
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });

  function mac(frame: Buffer, payloadEnd: number): Buffer {
    return createHmac('sha256', key)
      .update(frame.subarray(0, 1))
      .update(frame.subarray(FRAME_HEADER_BYTES, payloadEnd))
      .digest();
  }

  const own: { frame: Buffer; update: ConfigUpdate }[] = [];

  /** One of `own`, if `frame` has its bytes (the seq aside). */
  function ownUpdate(frame: Buffer): ConfigUpdate | undefined {
    for (const o of own) {
      if (o.frame.length === frame.length && frame[FRAME_TYPE_OFFSET] === o.frame[FRAME_TYPE_OFFSET] && frame.compare(o.frame, FRAME_HEADER_BYTES, o.frame.length, FRAME_HEADER_BYTES) === 0) return o.update;
    }
    return undefined;
  }

  function seal(type: number, payload: Uint8Array, what: string): Buffer {
    const length = FRAME_HEADER_BYTES + payload.length + SIGNATURE_BYTES;
    if (length > MAX_FRAME_BYTES) {
      throw new RangeError(`${what} frame of ${length} bytes exceeds the limit of ${MAX_FRAME_BYTES} bytes`);
    }
    const frame = Buffer.alloc(length);
    frame[FRAME_TYPE_OFFSET] = type;
    frame.set(payload, FRAME_HEADER_BYTES);
    mac(frame, length - SIGNATURE_BYTES).copy(frame, length - SIGNATURE_BYTES);
    return frame;
  }

  function encode(update: UnsignedUpdate): Buffer {
    // Validated before signing so that a frame this codec produces is one every node accepts.
    const checked = validateEnvelope(
      { v: PROTOCOL_VERSION, id: update.id, origin: update.origin, ts: update.ts, kind: update.kind, body: update.body },
      0,
    );
    if (!checked.ok) throw new TypeError(`invalid ConfigUpdate: ${checked.error}`);
    const { v, id, origin, ts, kind, body } = checked.value;
    const frame = seal(FRAME_TYPE_UPDATE, packr.pack({ v, id, origin, ts, kind, body }), 'ConfigUpdate');
    if (frame.length <= OWN_FRAME_MAX_BYTES) {
      if (own.length >= OWN_FRAMES) own.shift();
      // A copy: the caller may write into the frame it was given (a seq, a test's flipped bit).
      own.push({ frame: Buffer.from(frame), update: checked.value });
    }
    return frame;
  }

  function encodeAck(ack: Ack): Buffer {
    const checked = validateAck({ v: PROTOCOL_VERSION, update_id: ack.update_id, node: ack.node, ok: ack.ok, ...(ack.error !== undefined ? { error: ack.error } : {}) });
    if (!checked.ok) throw new TypeError(`invalid ack: ${checked.error}`);
    return seal(FRAME_TYPE_ACK, packr.pack(checked.value), 'ack');
  }

  /** The checks every frame passes, whatever its type: size, version, signature, msgpack map, type. */
  function open(input: Buffer, type: number): { ok: true; frame: Buffer; value: object } | Rejected {
    // Typed as Buffer, but JavaScript callers and the bus may hand over anything.
    const raw: unknown = input;
    if (!(raw instanceof Uint8Array)) return reject('malformed', 'frame must be a Buffer or Uint8Array');
    const frame = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const length = frame.length;
    if (length > MAX_FRAME_BYTES) return reject('too_large', `frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
    if (length < MIN_FRAME_BYTES) return reject('too_short', `frame of ${length} bytes is shorter than ${MIN_FRAME_BYTES}`);
    const typeByte = frame[FRAME_TYPE_OFFSET] as number;
    if ((typeByte & VERSION_MASK) !== PROTOCOL_VERSION) return reject('version', `frame version ${typeByte & VERSION_MASK}, expected ${PROTOCOL_VERSION}`);
    const payloadEnd = length - SIGNATURE_BYTES;
    if (!timingSafeEqual(mac(frame, payloadEnd), frame.subarray(payloadEnd))) {
      return reject('signature', 'HMAC-SHA256 does not match the cluster secret');
    }
    // Signed: this is what the sender meant to send, just not here.
    if (typeByte !== type) return reject('invalid', type === FRAME_TYPE_ACK ? 'an update frame where an ack was expected' : 'an ack frame where an update was expected');
    let value: unknown;
    try {
      value = packr.unpack(frame.subarray(FRAME_HEADER_BYTES, payloadEnd));
    } catch (e) {
      return reject('malformed', `msgpack: ${describe(e)}`);
    }
    if (!isPlainObject(value)) return reject('malformed', 'msgpack payload is not a map');
    return { ok: true, frame, value: value as object };
  }

  function decode(input: Buffer): DecodeResult {
    try {
      const mine = own.length > 0 && Buffer.isBuffer(input) ? ownUpdate(input) : undefined;
      if (mine) {
        const seq = readSeq(input);
        if (seq === undefined) return reject('invalid', 'seq: beyond Number.MAX_SAFE_INTEGER');
        // A deep copy, as a full decode gives: a caller changing one result must not change the next.
        return { ok: true, update: { ...copyOf(mine), seq } };
      }
      const r = open(input, FRAME_TYPE_UPDATE);
      if (!r.ok) return r;
      const seq = readSeq(r.frame);
      if (seq === undefined) return reject('invalid', 'seq: beyond Number.MAX_SAFE_INTEGER');
      const checked = validateEnvelope(r.value, seq);
      if (!checked.ok) return reject('invalid', checked.error);
      return { ok: true, update: checked.value };
    } catch (e) {
      // Unreachable by design; kept so that a bug here costs one message, not the subscriber.
      return reject('malformed', `decode failed: ${describe(e)}`);
    }
  }

  function decodeAck(input: Buffer): AckDecodeResult {
    try {
      const r = open(input, FRAME_TYPE_ACK);
      if (!r.ok) return r;
      const checked = validateAck(r.value);
      if (!checked.ok) return reject('invalid', checked.error);
      return { ok: true, ack: checked.value };
    } catch (e) {
      return reject('malformed', `decode failed: ${describe(e)}`);
    }
  }

  return { encode, decode, encodeAck, decodeAck };
}
