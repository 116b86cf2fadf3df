import { changesFromNamed, defaultsView, namedView, OPENSEARCH_TTL, simpleMatch } from '../src/cache/settings-keys';
import { HttpError } from '../src/errors';
import { booleanParam, flattenSettings, nestSettings } from '../src/http/opensearch/settings-tree';
import { OpenSearchError, reshapeError } from '../src/http/opensearch/errors';

const named = (layer: 'transient' | 'persistent', o: Record<string, unknown>) => changesFromNamed(layer, new Map(Object.entries(o)));
function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(400);
    return (e as Error).message;
  }
  throw new Error('expected a 400');
}

describe('changesFromNamed', () => {
  it('reads ttl_minutes as the TTL of every cache, from a string or a number', () => {
    for (const v of ['120', 120, '+120']) {
      expect(named('transient', { [OPENSEARCH_TTL]: v })).toEqual({
        changes: [{ scope: 'all', values: { ttl_ms: 7_200_000 }, persistent: false }],
        accepted: { [OPENSEARCH_TTL]: '120' },
      });
    }
  });

  it('reads our names, strings or JSON scalars, one change per scope, all first', () => {
    const r = named('persistent', {
      'authcache.cache.roles.max_entries': '500',
      'authcache.cache.all.ttl_ms': 1000,
      'authcache.cache.roles.active_update': 'true',
      'authcache.cache.credentials.active_update': false,
    });
    expect(r.changes).toEqual([
      { scope: 'all', values: { ttl_ms: 1000 }, persistent: true },
      { scope: 'credentials', values: { active_update: false }, persistent: true },
      { scope: 'roles', values: { max_entries: 500, active_update: true }, persistent: true },
    ]);
    expect(r.accepted).toEqual({
      'authcache.cache.roles.max_entries': '500',
      'authcache.cache.all.ttl_ms': '1000',
      'authcache.cache.roles.active_update': 'true',
      'authcache.cache.credentials.active_update': 'false',
    });
  });

  it('null resets a name; a wildcard null resets every name it matches; a value wins over a reset', () => {
    expect(named('transient', { [OPENSEARCH_TTL]: null }).changes).toEqual([{ scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] }]);
    const r = named('transient', { 'authcache.cache.roles.*': null, 'authcache.cache.roles.ttl_ms': '5' });
    expect(r.changes).toEqual([{ scope: 'roles', values: { ttl_ms: 5 }, persistent: false, reset: ['max_entries', 'refresh_ms', 'active_update'] }]);
    expect(r.accepted).toEqual({ 'authcache.cache.roles.ttl_ms': '5' });
    expect(named('persistent', { '*': null }).changes.map((c) => [c.scope, c.reset])).toEqual([
      ['all', ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update']],
      ['credentials', ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update']],
      ['roles', ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update']],
      ['permissions', ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update']],
      ['impersonation', ['ttl_ms', 'max_entries', 'refresh_ms', 'active_update']],
    ]);
    expect(named('transient', { 'nothing.*': null }).changes).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an unknown name', { 'indices.recovery.max_bytes_per_sec': '50mb' }, 'transient setting [indices.recovery.max_bytes_per_sec], not recognized'],
    ['an unknown name reset', { 'cluster.x': null }, 'transient setting [cluster.x], not recognized'],
    ['a wildcard with a value', { 'authcache.*': '5' }, 'transient setting [authcache.*], not recognized'],
    ['a word for minutes', { [OPENSEARCH_TTL]: 'NaN' }, `Failed to parse value [NaN] for setting [${OPENSEARCH_TTL}]`],
    ['a fraction', { [OPENSEARCH_TTL]: 1.5 }, `Failed to parse value [1.5] for setting [${OPENSEARCH_TTL}]`],
    ['a spaced number', { [OPENSEARCH_TTL]: ' 5' }, `Failed to parse value [ 5] for setting [${OPENSEARCH_TTL}]`],
    ['a boolean for minutes', { [OPENSEARCH_TTL]: true }, `Failed to parse value [true] for setting [${OPENSEARCH_TTL}]`],
    ['an array', { [OPENSEARCH_TTL]: [1] }, `Failed to parse value [[1]] for setting [${OPENSEARCH_TTL}]`],
    ['negative minutes', { [OPENSEARCH_TTL]: '-5' }, `Failed to parse value [-5] for setting [${OPENSEARCH_TTL}] must be >= 0`],
    ['over a year', { [OPENSEARCH_TTL]: 525_601 }, `Failed to parse value [525601] for setting [${OPENSEARCH_TTL}] must be <= 525600`],
    ['no entries', { 'authcache.cache.all.max_entries': '0' }, 'Failed to parse value [0] for setting [authcache.cache.all.max_entries] must be >= 1'],
    ['yes for a boolean', { 'authcache.cache.roles.active_update': 'yes' }, 'Failed to parse value [yes] for setting [authcache.cache.roles.active_update] as only [true] or [false] are allowed.'],
    ['two names for one value', { [OPENSEARCH_TTL]: '1', 'authcache.cache.all.ttl_ms': '60000' }, `transient settings [${OPENSEARCH_TTL}] and [authcache.cache.all.ttl_ms] set the same value: give one of them`],
  ])('refuses %s with OpenSearch reason', (_why, body, expected) => {
    expect(reason(() => named('transient', body))).toBe(expected);
  });

  it('never echoes a huge name or value whole', () => {
    expect(reason(() => named('transient', { ['x'.repeat(5000)]: 1 })).length).toBeLessThan(140);
    expect(reason(() => named('transient', { [OPENSEARCH_TTL]: 'y'.repeat(5000) })).length).toBeLessThan(160);
  });
});

describe('namedView and defaultsView', () => {
  it('shows the TTL for every cache as ttl_minutes when it is whole minutes, as ours otherwise; values as strings', () => {
    expect(namedView({ all: { ttl_ms: 1_800_000, active_update: true }, roles: { max_entries: 500 } })).toEqual({
      [OPENSEARCH_TTL]: '30',
      'authcache.cache.all.active_update': 'true',
      'authcache.cache.roles.max_entries': '500',
    });
    expect(namedView({ all: { ttl_ms: 1500 }, credentials: { ttl_ms: 60_000 } })).toEqual({
      'authcache.cache.all.ttl_ms': '1500',
      'authcache.cache.credentials.ttl_ms': '60000',
    });
  });

  it('lists every name with its default', () => {
    const d = defaultsView({ ttl_ms: 3_600_000, max_entries: 100, refresh_ms: 0, active_update: false });
    expect(d[OPENSEARCH_TTL]).toBe('60');
    expect(d['authcache.cache.roles.max_entries']).toBe('100');
    // OpenSearch's TTL, then 4 values for each of 5 scopes (all and the 4 caches)
    expect(Object.keys(d)).toHaveLength(21);
    expect(defaultsView({ ttl_ms: 1500, max_entries: 1, refresh_ms: 0, active_update: false })[OPENSEARCH_TTL]).toBeUndefined();
  });
});

describe('settings trees', () => {
  it('flattens nested, flat and mixed spellings alike', () => {
    const body = { plugins: { security: { cache: { ttl_minutes: 30 } } }, 'authcache.cache': { roles: { max_entries: '5' } }, 'authcache.cache.all.refresh_ms': null };
    expect([...flattenSettings('transient', body)]).toEqual([
      [OPENSEARCH_TTL, 30],
      ['authcache.cache.roles.max_entries', '5'],
      ['authcache.cache.all.refresh_ms', null],
    ]);
    expect([...flattenSettings('transient', { a: {} })]).toEqual([]);
  });

  it('refuses a name given twice and stops at a depth no setting has', () => {
    expect(() => flattenSettings('persistent', { 'a.b': 1, a: { b: 2 } })).toThrow('persistent setting [a.b] given more than once');
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    expect(() => flattenSettings('transient', deep)).toThrow(/^transient setting \[a\.a\.a\.a\.a\.a\.a\.a\], not recognized$/);
  });

  it('nests flat names on their dots', () => {
    expect(nestSettings({ [OPENSEARCH_TTL]: '30', 'authcache.cache.roles.max_entries': '5', 'authcache.cache.all.ttl_ms': '1' })).toEqual({
      plugins: { security: { cache: { ttl_minutes: '30' } } },
      authcache: { cache: { roles: { max_entries: '5' }, all: { ttl_ms: '1' } } },
    });
  });

  it('reads boolean flags as OpenSearch does', () => {
    expect(booleanParam({}, 'flat_settings')).toBe(false);
    expect(booleanParam({ flat_settings: '' }, 'flat_settings')).toBe(true);
    expect(booleanParam({ flat_settings: 'true' }, 'flat_settings')).toBe(true);
    expect(booleanParam({ flat_settings: 'false' }, 'flat_settings', true)).toBe(false);
    expect(() => booleanParam({ flat_settings: 'yes' }, 'flat_settings')).toThrow('Failed to parse value [yes] as only [true] or [false] are allowed.');
    expect(() => booleanParam({ flat_settings: ['true', 'false'] }, 'flat_settings')).toThrow(OpenSearchError);
  });
});

describe('reshapeError', () => {
  it("turns the server's error body into OpenSearch's, with the type the status or the error says", () => {
    expect(JSON.parse(reshapeError('{"error":"nope"}', 403)!)).toEqual({
      error: { root_cause: [{ type: 'security_exception', reason: 'nope' }], type: 'security_exception', reason: 'nope' },
      status: 403,
    });
    expect(JSON.parse(reshapeError('{"error":"malformed JSON body"}', 400)!).error.type).toBe('parse_exception');
    expect(JSON.parse(reshapeError('{"error":"x"}', 400, 'action_request_validation_exception')!).error.root_cause[0].type).toBe('action_request_validation_exception');
    expect(JSON.parse(reshapeError('{"error":"down"}', 503)!).error.type).toBe('status_exception');
  });

  it('leaves everything else alone', () => {
    expect(reshapeError('{"error":"x"}', 200)).toBeUndefined();
    expect(reshapeError('{"error":"x","more":1}', 400)).toBeUndefined();
    expect(reshapeError('{"error":{"type":"a"}}', 400)).toBeUndefined();
    expect(reshapeError('{"error":"unterminated', 400)).toBeUndefined();
    expect(reshapeError(Buffer.from('{"error":"x"}'), 400)).toBeUndefined();
    expect(reshapeError(undefined, 500)).toBeUndefined();
  });
});

describe('simpleMatch', () => {
  it.each<[string, string, boolean]>([
    ['*', 'a.b', true],
    ['authcache.cache.*', 'authcache.cache.all.ttl_ms', true],
    ['*.ttl_ms', 'authcache.cache.roles.ttl_ms', true],
    ['*cache*ttl*', 'plugins.security.cache.ttl_minutes', true],
    ['authcache.*.max_entries', 'authcache.cache.all.ttl_ms', false],
    ['a.b', 'a.b', true],
    ['a.b', 'a.bc', false],
    ['a?b', 'axb', false],
    ['', '', true],
    ['**', '', true],
  ])('%s against %s: %s', (pattern, s, expected) => {
    expect(simpleMatch(pattern, s)).toBe(expected);
  });

  it('stays fast on a pathological pattern', () => {
    const t0 = Date.now();
    expect(simpleMatch(`${'*a'.repeat(5000)}*x`, 'a'.repeat(45))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(500);
  });
});
