/**
 * The publishing node receives its own frame with every other node: codec.ts takes a frame equal to
 * one it signed (the seq aside) without the HMAC check and msgpack decode. These tests hold it to
 * giving exactly what a plain decode gives, and to nothing else.
 */
import { FRAME_HEADER_BYTES, FRAME_SEQ_BYTES, FRAME_SEQ_OFFSET, FRAME_TYPE_OFFSET, createCodec, withSeq } from '@authcache/protocol';
import { unsigned } from './frames';

// HMACs counted, to see which path a decode took (the results of both are equal by design).
const mockHmacs = { count: 0 };
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, createHmac: (...args: Parameters<typeof actual.createHmac>) => (mockHmacs.count++, actual.createHmac(...args)) };
});


describe('own frames (the publishing node receiving its own update)', () => {
  it.each(unsigned.map((u) => [u.kind, u] as const))('decode as another node decodes them: %s', (_kind, u) => {
    const mine = createCodec('secret');
    const frame = withSeq(mine.encode(u), 77);
    expect(mine.decode(frame)).toEqual(createCodec('secret').decode(frame));
    // Twice (subscriber and catch-up): each time a fresh object with the frame's seq.
    const first = mine.decode(frame);
    const again = mine.decode(withSeq(frame, 78));
    expect(again.ok && again.update.seq).toBe(78);
    expect(first.ok && first.update.seq).toBe(77);
  });

  it('are not taken for a frame that differs in any signed byte', () => {
    const mine = createCodec('secret');
    const frame = withSeq(mine.encode(unsigned[2]!), 5);
    for (const at of [FRAME_TYPE_OFFSET, FRAME_HEADER_BYTES, frame.length >> 1, frame.length - 1]) {
      const forged = Buffer.from(frame);
      forged[at]! ^= 0x01;
      const r = mine.decode(forged);
      expect(r.ok).toBe(false);
    }
  });

  it('are still verified once more have been signed since (only the last few are kept)', () => {
    const mine = createCodec('secret');
    const first = withSeq(mine.encode(unsigned[0]!), 1);
    for (let i = 0; i < 20; i++) mine.encode({ ...unsigned[0]!, id: `later-${i}` });
    expect(mine.decode(first)).toEqual(createCodec('secret').decode(first));
    // A forged copy of an evicted frame is caught by the signature, as any frame.
    const forged = Buffer.from(first);
    forged[FRAME_HEADER_BYTES + 2]! ^= 0x01;
    expect(mine.decode(forged)).toMatchObject({ ok: false });
  });

  it('are checked for a seq beyond Number.MAX_SAFE_INTEGER like any frame', () => {
    const mine = createCodec('secret');
    const frame = Buffer.from(mine.encode(unsigned[0]!));
    frame.fill(0xff, FRAME_SEQ_OFFSET, FRAME_SEQ_OFFSET + FRAME_SEQ_BYTES);
    expect(mine.decode(frame)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(createCodec('secret').decode(frame)).toMatchObject({ ok: false, reason: 'invalid' });
  });
});

it('a frame changed in place after encode is not taken for the one signed', () => {
  const mine = createCodec('secret');
  const frame = mine.encode(unsigned[0]!);
  frame[FRAME_HEADER_BYTES]! ^= 0x01;
  expect(mine.decode(frame)).toMatchObject({ ok: false, reason: 'signature' });
});

it('each decode of an own frame is a fresh object: changing one result changes no later one', () => {
  const mine = createCodec('secret');
  const frame = withSeq(mine.encode(unsigned[2]!), 9);
  const first = mine.decode(frame);
  if (!first.ok || first.update.kind !== 'flush_users') throw new Error('expected a flush_users update');
  first.update.body.usernames.push('mallory');
  (first.update.body as { caches?: string[] }).caches?.splice(0);
  expect(mine.decode(frame)).toEqual(createCodec('secret').decode(frame));
});

it('takes an own frame without an HMAC, and a changed copy with one', () => {
  const mine = createCodec('secret');
  const frame = withSeq(mine.encode(unsigned[0]!), 3);
  mockHmacs.count = 0;
  expect(mine.decode(frame)).toMatchObject({ ok: true });
  expect(mockHmacs.count).toBe(0);
  const changed = Buffer.from(frame);
  changed[FRAME_HEADER_BYTES]! ^= 0x01;
  expect(mine.decode(changed)).toMatchObject({ ok: false, reason: 'signature' });
  expect(mockHmacs.count).toBe(1);
});
