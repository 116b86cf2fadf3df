import fc from 'fast-check';
import {
  MAX_MAX_ENTRIES,
  MAX_TTL_MS,
  PROTOCOL_VERSION,
  createCodec,
  validateUpdate,
  withSeq,
} from '@authcache/protocol';
import type { CacheName, UnsignedUpdate } from '@authcache/protocol';
import { craft, packr } from './frames';

const codec = createCodec('property secret');

/** Strings of code points; half of the max so that astral characters (2 UTF-16 units) stay within it. */
const text = (max: number) => fc.string({ unit: 'binary', minLength: 1, maxLength: Math.floor(max / 2) });
const caches = fc.shuffledSubarray<CacheName>(['credentials', 'roles'], { minLength: 1 });
const withCaches = <T extends object>(body: T, c: CacheName[] | null) => (c === null ? body : { ...body, caches: c });
const settings = fc
  .record(
    {
      ttl_ms: fc.integer({ min: 0, max: MAX_TTL_MS }),
      max_entries: fc.integer({ min: 1, max: MAX_MAX_ENTRIES }),
      refresh_ms: fc.integer({ min: 0, max: MAX_TTL_MS }),
      active_update: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .filter((v) => Object.keys(v).length > 0);

const body = fc.oneof(
  fc.record({ kind: fc.constant('flush_all' as const), caches: fc.option(caches) }).map(({ kind, caches: c }) => ({ kind, body: withCaches({}, c) })),
  fc
    .record({ kind: fc.constant('flush_users' as const), usernames: fc.array(text(256), { minLength: 1, maxLength: 20 }), caches: fc.option(caches) })
    .map(({ kind, usernames, caches: c }) => ({ kind, body: withCaches({ usernames }, c) })),
  fc.record({
    kind: fc.constant('set_settings' as const),
    body: fc.record({ scope: fc.constantFrom('all' as const, 'credentials' as const, 'roles' as const), values: settings, persistent: fc.boolean() }),
  }),
);

const ack = fc.record(
  { update_id: text(128), node: text(256), ok: fc.boolean(), error: fc.string({ unit: 'binary', maxLength: 200 }) },
  { requiredKeys: ['update_id', 'node', 'ok'] },
);

const update: fc.Arbitrary<UnsignedUpdate> = fc
  .record({
    id: text(128),
    origin: text(256),
    // -0 is normalised to 0 by the codec, so it is left out of the expectation's domain.
    ts: fc.oneof(fc.maxSafeNat(), fc.double({ min: 0, max: 1e15, noNaN: true })).map((t) => t + 0),
    kb: body,
  })
  .map(({ kb, ...rest }) => ({ ...rest, ...kb }) as UnsignedUpdate);

describe('codec properties', () => {
  it('round-trips every valid update with any safe seq', () => {
    fc.assert(
      fc.property(update, fc.maxSafeNat(), (u, seq) => {
        const r = codec.decode(withSeq(codec.encode(u), seq));
        expect(r).toEqual({ ok: true, update: { ...u, v: PROTOCOL_VERSION, seq } });
        // What the codec emits satisfies the schema check on its own too.
        expect(r.ok && validateUpdate(r.update).ok).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes and rejects them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = codec.decode(Buffer.from(bytes));
        expect(r.ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects garbage with the right version byte and a plausible length as a bad signature', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 41, maxLength: 2000 }), (bytes) => {
        const frame = Buffer.concat([Buffer.from([PROTOCOL_VERSION]), bytes]);
        expect(codec.decode(frame)).toMatchObject({ ok: false, reason: 'signature' });
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on a raw Uint8Array view', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(8), (bytes, offset) => {
        const view = new Uint8Array(bytes.length + offset).subarray(offset);
        view.set(bytes);
        expect(codec.decode(view as Buffer).ok).toBe(false);
      }),
    );
  });

  it('never throws on any correctly signed payload, and accepts only what the schema accepts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), fc.uint8Array({ minLength: 1, maxLength: 100 })), (value) => {
        let payload: Buffer;
        if (value instanceof Uint8Array) payload = Buffer.from(value);
        else {
          try {
            payload = packr.pack(value);
          } catch {
            return; // not encodable by msgpackr, so never on the wire either
          }
        }
        if (payload.length === 0) return;
        const r = codec.decode(craft(payload, { secret: 'property secret' }));
        if (r.ok) expect(validateUpdate(r.update).ok).toBe(true);
        else expect(['malformed', 'invalid']).toContain(r.reason);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects a valid frame with any byte of its signed part changed', () => {
    fc.assert(
      fc.property(update, fc.nat(), fc.integer({ min: 1, max: 255 }), (u, at, xor) => {
        const frame = codec.encode(u);
        const signed = [0, ...Array.from({ length: frame.length - 9 }, (_, i) => i + 9)];
        const i = signed[at % signed.length] as number;
        frame[i] = (frame[i] as number) ^ xor;
        // Byte 0 with only the type bit changed is still version 1: then the signature tells.
        expect(codec.decode(frame)).toMatchObject({ ok: false, reason: i === 0 && xor !== 0x80 ? 'version' : 'signature' });
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips every valid ack, and never takes it for an update', () => {
    fc.assert(
      fc.property(ack, (a) => {
        const frame = codec.encodeAck(a);
        expect(codec.decodeAck(frame)).toEqual({ ok: true, ack: { ...a, v: PROTOCOL_VERSION } });
        expect(codec.decode(frame)).toMatchObject({ ok: false, reason: 'invalid' });
      }),
      { numRuns: 300 },
    );
  });

  it('never takes an update for an ack', () => {
    fc.assert(
      fc.property(update, (u) => {
        expect(codec.decodeAck(codec.encode(u))).toMatchObject({ ok: false, reason: 'invalid' });
      }),
      { numRuns: 200 },
    );
  });
});
