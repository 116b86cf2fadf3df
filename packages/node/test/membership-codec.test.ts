/** Signed heartbeats: what a node with the cluster's secret wrote is read back; anything else is a reject, never a throw. */

import { HeartbeatCodec, STORED_PREFIX, sameText, secretMarker, type Heartbeat } from '../src/membership/heartbeat-codec';

const SECRET = 'the-cluster-secret';
const codec = new HeartbeatCodec(SECRET);
const hb: Heartbeat = { id: 'n1', address: '127.0.0.1:7001', applied_seq: 42, started: 1, cache: { credentials: { size: 1, hits: 2, misses: 3, evictions: 0, loads: 1, load_failures: 0 } } };

/** What the heartbeat script stores for a signed heartbeat. */
const stored = (signed: string, stampMs = 1_800_000_000_000, seq = 43) => `${STORED_PREFIX}|${stampMs}|${seq}|${signed}`;

describe('heartbeat codec', () => {
  it('reads back a heartbeat signed with the same secret, with the Redis stamp and seq', () => {
    expect(codec.decode('n1', stored(codec.sign(hb)))).toEqual({ ok: true, id: 'n1', stampMs: 1_800_000_000_000, seqAtBeat: 43, hb });
  });

  it('keeps a | inside the JSON intact', () => {
    const odd = { ...hb, address: 'a|b' };
    expect(codec.decode('n1', stored(codec.sign(odd)))).toMatchObject({ ok: true, hb: odd });
  });

  it('rejects a heartbeat signed with another secret, keeping its stamp', () => {
    const other = new HeartbeatCodec('another-secret');
    expect(codec.decode('n1', stored(other.sign(hb), 5))).toEqual({ ok: false, id: 'n1', reason: 'bad signature', stampMs: 5 });
  });

  it('rejects a heartbeat moved under another member id (the id is signed)', () => {
    expect(codec.decode('n2', stored(codec.sign(hb)))).toMatchObject({ ok: false, reason: 'bad signature' });
  });

  it('rejects a tampered body', () => {
    const tampered = stored(codec.sign(hb)).replace('"applied_seq":42', '"applied_seq":41');
    expect(codec.decode('n1', tampered)).toMatchObject({ ok: false, reason: 'bad signature' });
  });

  it('rejects a body signed for this field whose id names another member', () => {
    const k = codec as unknown as { mac(id: string, json: string): string };
    const json = JSON.stringify({ ...hb, id: 'n2' });
    expect(codec.decode('n1', stored(`${k.mac('n1', json)}|${json}`))).toMatchObject({ ok: false, reason: 'wrong id' });
  });

  it.each([
    ['an old unsigned JSON heartbeat', JSON.stringify({ ...hb, ts: Date.now() })],
    ['empty', ''],
    ['a prefix only', `${STORED_PREFIX}|1|2`],
    ['a bad stamp', `${STORED_PREFIX}|soon|2|${'0'.repeat(64)}|{}`],
    ['a bad seq', `${STORED_PREFIX}|1|-2|${'0'.repeat(64)}|{}`],
    ['an unsigned body', `${STORED_PREFIX}|1|2||${JSON.stringify(hb)}`],
    ['a short signature', `${STORED_PREFIX}|1|2|abc|${JSON.stringify(hb)}`],
    ['binary', '\u0000\uffff|||||'],
  ])('rejects %s without throwing', (_what, value) => {
    const d = codec.decode('n1', value);
    expect(d.ok).toBe(false);
  });

  it('rejects a correctly signed body that is not a heartbeat', () => {
    const k = new HeartbeatCodec(SECRET) as unknown as { mac(id: string, json: string): string };
    for (const json of ['[]', 'null', '{"id":"n1"}', 'not json', JSON.stringify({ ...hb, applied_seq: -1 }), JSON.stringify({ ...hb, left: 'yes' })]) {
      expect(codec.decode('n1', stored(`${k.mac('n1', json)}|${json}`))).toMatchObject({ ok: false, reason: 'garbled' });
    }
  });

  it('rejects a value that is not a string', () => {
    expect(codec.decode('n1', undefined)).toMatchObject({ ok: false, reason: 'garbled', stampMs: undefined });
  });

  it('the secret marker is derived from the secret, never the secret itself, and differs between secrets', () => {
    const m = secretMarker(SECRET);
    expect(m).toMatch(/^[0-9a-f]{64}$/);
    expect(m).not.toContain(SECRET);
    expect(secretMarker(SECRET)).toBe(m);
    expect(secretMarker('another-secret')).not.toBe(m);
    expect(sameText(m, secretMarker(SECRET))).toBe(true);
    expect(sameText(m, m.slice(1))).toBe(false);
  });
});
