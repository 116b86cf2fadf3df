import {
  AUTHZ_CACHE_NAMES,
  CACHE_NAMES,
  LOGIN_CACHE_NAMES,
  SETTINGS_SCOPES,
  KINDS,
  MAX_FRAME_BYTES,
  MAX_MAX_ENTRIES,
  MAX_TTL_MS,
  PROTOCOL_VERSION,
  isValidUsername,
  validateAck,
  validateSettingsValues,
  validateUpdate,
} from '@authcache/protocol';
import type { AckMessage, ConfigUpdate } from '@authcache/protocol';

describe('constants', () => {
  it('match the contract', () => {
    expect(PROTOCOL_VERSION).toBe(1);
    expect(MAX_FRAME_BYTES).toBe(65536);
    expect(CACHE_NAMES).toEqual(['credentials', 'roles', 'permissions', 'impersonation']);
    expect(LOGIN_CACHE_NAMES).toEqual(['credentials', 'roles']);
    expect(AUTHZ_CACHE_NAMES).toEqual(['permissions', 'impersonation']);
    expect(SETTINGS_SCOPES).toEqual(['all', 'credentials', 'roles', 'permissions', 'impersonation']);
    expect(KINDS).toEqual(['flush_all', 'flush_users', 'set_settings']);
    expect(MAX_TTL_MS).toBe(31_536_000_000);
    expect(MAX_MAX_ENTRIES).toBe(100_000_000);
  });
});

describe('validateSettingsValues', () => {
  it.each([
    [{ ttl_ms: 0 }],
    [{ ttl_ms: MAX_TTL_MS }],
    [{ max_entries: 1 }],
    [{ max_entries: MAX_MAX_ENTRIES }],
    [{ refresh_ms: 0 }],
    [{ refresh_ms: MAX_TTL_MS }],
    [{ active_update: false }],
    [{ ttl_ms: 60_000, max_entries: 10, refresh_ms: 1000, active_update: true }],
  ])('accepts %j', (x) => {
    expect(validateSettingsValues(x)).toEqual({ ok: true, value: x });
  });

  it.each([
    [{ ttl_ms: -1 }, 'ttl_ms'],
    [{ ttl_ms: MAX_TTL_MS + 1 }, 'ttl_ms'],
    [{ ttl_ms: 1.5 }, 'ttl_ms'],
    [{ ttl_ms: Number.NaN }, 'ttl_ms'],
    [{ ttl_ms: Number.POSITIVE_INFINITY }, 'ttl_ms'],
    [{ ttl_ms: '1000' }, 'ttl_ms'],
    [{ ttl_ms: null }, 'ttl_ms'],
    [{ max_entries: 0 }, 'max_entries'],
    [{ max_entries: MAX_MAX_ENTRIES + 1 }, 'max_entries'],
    [{ refresh_ms: -5 }, 'refresh_ms'],
    [{ refresh_ms: MAX_TTL_MS + 1 }, 'refresh_ms'],
    [{ active_update: 'true' }, 'active_update'],
    [{ active_update: 1 }, 'active_update'],
    [{ ttl_ms: 10, ttl_minutes: 2 }, '"ttl_minutes"'],
  ])('rejects %j naming %s', (x, field) => {
    const r = validateSettingsValues(x);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(field);
  });

  it('names the field in a stable format', () => {
    expect(validateSettingsValues({ ttl_ms: -1 })).toEqual({ ok: false, error: 'ttl_ms: must be an integer in 0..31536000000' });
  });

  it('requires at least one key', () => {
    expect(validateSettingsValues({})).toMatchObject({ ok: false, error: expect.stringContaining('at least one') });
    expect(validateSettingsValues({ ttl_ms: undefined })).toMatchObject({ ok: false });
  });

  it('treats an undefined value as absent', () => {
    expect(validateSettingsValues({ ttl_ms: 5, max_entries: undefined })).toEqual({ ok: true, value: { ttl_ms: 5 } });
  });

  it.each([[null], [undefined], [[]], [[{ ttl_ms: 1 }]], ['ttl_ms=1'], [7], [new Date()], [new Map([['ttl_ms', 1]])]])(
    'rejects the non-object %p',
    (x) => {
      expect(validateSettingsValues(x)).toMatchObject({ ok: false, error: expect.stringContaining('must be an object') });
    },
  );

  it('rejects a __proto__ key as unknown and pollutes nothing', () => {
    const x: unknown = JSON.parse('{"ttl_ms": 1, "__proto__": {"polluted": true}}');
    expect(validateSettingsValues(x)).toMatchObject({ ok: false, error: expect.stringContaining('__proto__') });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('ignores inherited properties', () => {
    const proto = { ttl_ms: 5 };
    expect(validateSettingsValues(Object.create(proto))).toMatchObject({ ok: false });
  });

  it('accepts a null-prototype object and returns a fresh plain one', () => {
    const x = Object.assign(Object.create(null) as object, { ttl_ms: 5 });
    const r = validateSettingsValues(x);
    expect(r).toEqual({ ok: true, value: { ttl_ms: 5 } });
    if (r.ok) {
      expect(r.value).not.toBe(x);
      expect(Object.getPrototypeOf(r.value)).toBe(Object.prototype);
    }
  });
});

const base = { v: 1, id: 'u-1', seq: 7, origin: 'node-a', ts: 1_700_000_000_000 };
const samples: ConfigUpdate[] = [
  { ...base, kind: 'flush_all', body: {} },
  { ...base, kind: 'flush_all', body: { caches: ['roles'] } },
  { ...base, kind: 'flush_users', body: { usernames: ['alice', 'bob'] } },
  { ...base, kind: 'flush_users', body: { usernames: ['alice'], caches: ['credentials', 'roles'] } },
  { ...base, kind: 'set_settings', body: { scope: 'all', values: { ttl_ms: 0 }, persistent: false } },
  { ...base, kind: 'set_settings', body: { scope: 'credentials', values: { max_entries: 5, active_update: true }, persistent: true } },
  { ...base, kind: 'flush_users', body: { usernames: ['readers', 'alice'], caches: ['permissions', 'impersonation'] } },
  { ...base, kind: 'flush_all', body: { caches: ['permissions'] } },
  { ...base, kind: 'set_settings', body: { scope: 'permissions', values: { ttl_ms: 1000 }, persistent: false } },
  { ...base, kind: 'set_settings', body: { scope: 'impersonation', values: { max_entries: 10 }, persistent: true } },
];
const acks: AckMessage[] = [
  { v: 1, update_id: 'u-0', node: 'node-b', ok: true },
  { v: 1, update_id: 'u-0', node: 'node-b', ok: false, error: 'boom' },
];

/** An update with one path replaced (or deleted with `undefined` as the whole value of `del`). */
function tweak(u: ConfigUpdate, path: string, value: unknown, del = false): unknown {
  const copy = JSON.parse(JSON.stringify(u)) as Record<string, unknown>;
  const parts = path.split('.');
  let o = copy;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  const last = parts[parts.length - 1] as string;
  if (del) delete o[last];
  else o[last] = value;
  return copy;
}

const flushUsers = samples[3] as ConfigUpdate;
const setSettings = samples[5] as ConfigUpdate;
const ack = acks[1] as AckMessage;

describe('validateUpdate', () => {
  it.each(samples.map((s) => [s.kind, s] as const))('accepts a valid %s', (_kind, u) => {
    expect(validateUpdate(u)).toEqual({ ok: true, value: u });
  });

  it('returns a copy that shares no arrays with the input', () => {
    const r = validateUpdate(flushUsers);
    expect(r.ok).toBe(true);
    if (r.ok && r.value.kind === 'flush_users' && flushUsers.kind === 'flush_users') {
      expect(r.value.body.usernames).not.toBe(flushUsers.body.usernames);
      expect(r.value.body).not.toBe(flushUsers.body);
    }
  });

  it('drops optional fields whose value is undefined', () => {
    const r = validateUpdate({ ...base, kind: 'flush_all', body: { caches: undefined } });
    expect(r.ok && Object.keys(r.value.body)).toEqual([]);
    const a = validateAck({ v: 1, update_id: 'a', node: 'n', ok: true, error: undefined });
    expect(a.ok && Object.keys(a.value)).toEqual(['v', 'update_id', 'node', 'ok']);
  });

  it.each([
    ['v', 2, 'v: must be 1'],
    ['v', '1', 'v: must be 1'],
    ['id', '', 'id: must be a string of 1..128 characters'],
    ['id', 'x'.repeat(129), 'id: must be a string'],
    ['id', 5, 'id: must be a string'],
    ['origin', '', 'origin: must be a string of 1..256'],
    ['origin', 'x'.repeat(257), 'origin: must be a string'],
    ['ts', -1, 'ts: must be a finite number >= 0'],
    ['ts', Number.POSITIVE_INFINITY, 'ts:'],
    ['ts', Number.NaN, 'ts:'],
    ['ts', '1', 'ts:'],
    ['seq', -1, 'seq: must be a safe integer >= 0'],
    ['seq', 1.5, 'seq:'],
    ['seq', Number.MAX_SAFE_INTEGER + 1, 'seq:'],
    ['seq', '3', 'seq:'],
    ['kind', 'drop_tables', 'kind: must be one of flush_all, flush_users, set_settings'],
    ['kind', 'toString', 'kind:'],
    ['kind', '__proto__', 'kind:'],
    ['extra', 1, 'update: unknown field "extra"'],
    ['sig', 'abc', 'update: unknown field "sig"'],
  ])('rejects %s = %p', (field, value, error) => {
    const r = validateUpdate(tweak(flushUsers, field, value));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it.each(['v', 'id', 'seq', 'origin', 'ts', 'kind', 'body'])('requires %s', (field) => {
    const r = validateUpdate(tweak(flushUsers, field, undefined, true));
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(new RegExp(`^${field}: `)) });
  });

  it.each([[null], [[]], ['{}'], [undefined], [new Date(0)]])('rejects the non-object %p', (x) => {
    expect(validateUpdate(x)).toEqual({ ok: false, error: 'update: must be an object' });
  });

  it.each([
    ['body.caches', [], 'body.caches: must be a non-empty array'],
    ['body.caches', ['roles', 'roles'], 'body.caches[1]: duplicate cache roles'],
    ['body.caches', ['PermissionsCache'], 'body.caches[0]: must be one of credentials, roles, permissions, impersonation'],
    ['body.caches', ['toString'], 'body.caches[0]: must be one of'],
    ['body.caches', 'roles', 'body.caches: must be a non-empty array'],
    ['body.usernames', [], 'body.usernames: must be an array of 1..10000 usernames'],
    ['body.usernames', 'alice', 'body.usernames: must be an array'],
    ['body.usernames', ['alice', ''], 'body.usernames[1]: must be a string of 1..256 characters'],
    ['body.usernames', ['x'.repeat(257)], 'body.usernames[0]: must be a string of 1..256 characters'],
    ['body.usernames', ['ok', 3], 'body.usernames[1]: must be a string'],
    ['body.usernames', ['bad\uD800'], 'body.usernames[0]: must be well-formed Unicode'],
    ['body.usernames', ['\uDC00bad'], 'body.usernames[0]: must be well-formed Unicode'],
    ['body.extra', true, 'body: unknown field "extra"'],
  ])('rejects a flush_users %s = %p', (field, value, error) => {
    const r = validateUpdate(tweak(flushUsers, field, value));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('accepts usernames at the limits of count and length', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    expect(validateUpdate(tweak(flushUsers, 'body.usernames', many)).ok).toBe(true);
    expect(validateUpdate(tweak(flushUsers, 'body.usernames', [...many, 'one-too-many'])).ok).toBe(false);
    expect(validateUpdate(tweak(flushUsers, 'body.usernames', ['x'.repeat(256), '\u{1F600}'])).ok).toBe(true);
  });

  it.each([
    ['body.scope', 'perms', 'body.scope: must be one of all, credentials, roles, permissions, impersonation'],
    ['body.scope', '__proto__', 'body.scope: must be one of'],
    ['body.scope', undefined, 'body.scope: must be one of'],
    ['body.persistent', 'yes', 'body.persistent: must be a boolean'],
    ['body.values', {}, 'body.values: must set at least one of'],
    ['body.values', null, 'body.values: must be an object'],
    ['body.values.ttl_ms', -1, 'body.values.ttl_ms: must be an integer in 0..31536000000'],
    ['body.values.bogus', 1, 'body.values: unknown field "bogus"'],
    ['body.extra', 1, 'body: unknown field "extra"'],
  ])('rejects a set_settings %s = %p', (field, value, error) => {
    const r = validateUpdate(tweak(setSettings, field, value));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('refuses an ack as an update: acks are their own message type', () => {
    const r = validateUpdate({ ...base, kind: 'ack', body: { update_id: 'u-0', node: 'node-b', ok: true } });
    expect(r).toEqual({ ok: false, error: 'kind: must be one of flush_all, flush_users, set_settings' });
  });
});

describe('validateAck', () => {
  it.each(acks.map((a) => [a.ok, a] as const))('accepts a valid ack (ok %p)', (_ok, a) => {
    expect(validateAck(a)).toEqual({ ok: true, value: a });
  });

  it.each([
    ['v', 2, 'v: must be 1'],
    ['update_id', '', 'update_id: must be a string of 1..128'],
    ['node', 3, 'node: must be a string of 1..256'],
    ['ok', 'true', 'ok: must be a boolean'],
    ['error', 42, 'error: must be a string'],
    ['extra', 1, 'ack: unknown field "extra"'],
    ['kind', 'ack', 'ack: unknown field "kind"'],
  ])('rejects an ack %s = %p', (field, value, error) => {
    const r = validateAck(tweak(ack as unknown as ConfigUpdate, field, value));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('accepts an empty ack error', () => {
    expect(validateAck(tweak(ack as unknown as ConfigUpdate, 'error', '')).ok).toBe(true);
  });

  it('refuses an update as an ack', () => {
    expect(validateAck(samples[0]).ok).toBe(false);
  });

  it('rejects a flush_all with a body that is not an object', () => {
    expect(validateUpdate({ ...base, kind: 'flush_all', body: [] })).toEqual({ ok: false, error: 'body: must be an object' });
  });

  it('rejects a __proto__ key in a body and pollutes nothing', () => {
    const x: unknown = JSON.parse(
      JSON.stringify({ ...base, kind: 'flush_all', body: {} }).replace('"body":{}', '"body":{"__proto__":{"polluted":1}}'),
    );
    expect(validateUpdate(x)).toEqual({ ok: false, error: 'body: unknown field "__proto__"' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never reads a field from a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.usernames = ['mallory'];
    try {
      expect(validateUpdate({ ...base, kind: 'flush_users', body: {} })).toMatchObject({ ok: false, error: expect.stringContaining('body.usernames') });
    } finally {
      delete proto.usernames;
    }
  });

  it('normalises -0 to 0', () => {
    const r = validateUpdate({ ...base, ts: -0, seq: -0, kind: 'flush_all', body: {} });
    expect(r.ok && Object.is(r.value.ts, 0) && Object.is(r.value.seq, 0)).toBe(true);
  });
});

describe('isValidUsername', () => {
  it('agrees with the schema', () => {
    expect(isValidUsername('alice')).toBe(true);
    expect(isValidUsername('x'.repeat(256))).toBe(true);
    expect(isValidUsername('')).toBe(false);
    expect(isValidUsername('x'.repeat(257))).toBe(false);
    expect(isValidUsername('a\uD800')).toBe(false);
    expect(isValidUsername(5)).toBe(false);
  });
});

describe('set_settings with resets and several changes', () => {
  const setBase = { v: 1, id: 'u-1', seq: 7, origin: 'node-a', ts: 1 };
  const body = (b: Record<string, unknown>) => validateUpdate({ ...setBase, kind: 'set_settings', body: b });

  it('carries a reset, with or without values', () => {
    const reset = { scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] };
    expect(body(reset)).toEqual({ ok: true, value: { ...setBase, kind: 'set_settings', body: reset } });
    expect(body({ ...reset, values: { max_entries: 3 } }).ok).toBe(true);
  });

  it('carries further changes applied in order after the first', () => {
    const b = { scope: 'roles', values: { ttl_ms: 5 }, persistent: true, more: [{ scope: 'all', values: {}, persistent: false, reset: ['ttl_ms', 'refresh_ms'] }] };
    expect(body(b)).toEqual({ ok: true, value: { ...setBase, kind: 'set_settings', body: b } });
  });

  it.each([
    ['empty values and no reset', { scope: 'all', values: {}, persistent: false }, 'body.values: must set at least one of'],
    ['an empty reset', { scope: 'all', values: {}, persistent: false, reset: [] }, 'body.reset: must be a non-empty array'],
    ['an unknown reset key', { scope: 'all', values: {}, persistent: false, reset: ['bogus'] }, 'body.reset[0]: must be one of'],
    ['a duplicate reset key', { scope: 'all', values: {}, persistent: false, reset: ['ttl_ms', 'ttl_ms'] }, 'body.reset[1]: duplicate key ttl_ms'],
    ['an empty more', { scope: 'all', values: { ttl_ms: 1 }, persistent: false, more: [] }, 'body.more: must be an array of 1..15 changes'],
    ['a nested more', { scope: 'all', values: { ttl_ms: 1 }, persistent: false, more: [{ scope: 'all', values: { ttl_ms: 1 }, persistent: true, more: [] }] }, 'body.more[0]: unknown field "more"'],
    ['a bad change in more', { scope: 'all', values: { ttl_ms: 1 }, persistent: false, more: [{ scope: 'x', values: { ttl_ms: 1 }, persistent: true }] }, 'body.more[0].scope: must be one of'],
    ['too many changes', { scope: 'all', values: { ttl_ms: 1 }, persistent: false, more: Array.from({ length: 16 }, () => ({ scope: 'all', values: { ttl_ms: 1 }, persistent: true })) }, 'body.more: must be an array of 1..15'],
  ])('rejects %s', (_what, b, error) => {
    const r = body(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });
});
