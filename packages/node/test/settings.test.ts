import fc from 'fast-check';
import type { CacheName, SetSettingsBody, SettingsValues } from '@authcache/protocol';
import {
  applyWrites,
  changesOf,
  effectiveSettings,
  overlayFromHash,
  settingsWrites,
  VALUE_KEYS,
  type LayerChange,
  type Overlays,
  type SettingsUpdate,
  type SettingsWrite,
  type ValueKey,
} from '../src/cache/settings';

const DEFAULTS: Required<SettingsValues> = { ttl_ms: 1000, max_entries: 10, refresh_ms: 0, active_update: false };
const empty = (): Overlays => ({ transient: {}, persistent: {} });

describe('effectiveSettings', () => {
  it('uses the environment defaults when nothing was written', () => {
    const s = effectiveSettings(DEFAULTS, empty());
    for (const c of ['credentials', 'roles'] as const) {
      expect(s[c]).toEqual({ ...DEFAULTS, enabled: true });
    }
  });

  // Which layer wins for the credentials cache's ttl_ms; roles only sees the `all` values.
  it.each<[string, Overlays, number, number]>([
    ['env only', { transient: {}, persistent: {} }, 1000, 1000],
    ['persistent all over env', { transient: {}, persistent: { all: { ttl_ms: 2 } } }, 2, 2],
    ['persistent cache over persistent all', { transient: {}, persistent: { all: { ttl_ms: 2 }, credentials: { ttl_ms: 3 } } }, 3, 2],
    ['transient all over persistent all', { transient: { all: { ttl_ms: 4 } }, persistent: { all: { ttl_ms: 2 } } }, 4, 4],
    ['transient all over persistent cache', { transient: { all: { ttl_ms: 4 } }, persistent: { credentials: { ttl_ms: 3 } } }, 4, 4],
    ['transient cache over transient all', { transient: { all: { ttl_ms: 4 }, credentials: { ttl_ms: 5 } }, persistent: {} }, 5, 4],
    [
      'transient cache over everything',
      { transient: { all: { ttl_ms: 4 }, credentials: { ttl_ms: 5 } }, persistent: { all: { ttl_ms: 2 }, credentials: { ttl_ms: 3 } } },
      5,
      4,
    ],
    ['persistent roles does not leak into credentials', { transient: {}, persistent: { roles: { ttl_ms: 6 } } }, 1000, 6],
  ])('%s', (_name, o, credentials, roles) => {
    const s = effectiveSettings(DEFAULTS, o);
    expect(s.credentials.ttl_ms).toBe(credentials);
    expect(s.roles.ttl_ms).toBe(roles);
  });

  it('resolves each key on its own', () => {
    const s = effectiveSettings(DEFAULTS, {
      transient: { credentials: { max_entries: 7 } },
      persistent: { all: { ttl_ms: 50, active_update: true }, roles: { refresh_ms: 9 } },
    });
    expect(s.credentials).toEqual({ ttl_ms: 50, max_entries: 7, refresh_ms: 0, active_update: true, enabled: true });
    expect(s.roles).toEqual({ ttl_ms: 50, max_entries: 10, refresh_ms: 9, active_update: true, enabled: true });
  });

  it('false and 0 are values, not absences', () => {
    const s = effectiveSettings(
      { ...DEFAULTS, active_update: true },
      { transient: { credentials: { ttl_ms: 0, active_update: false } }, persistent: {} },
    );
    expect(s.credentials.ttl_ms).toBe(0);
    expect(s.credentials.enabled).toBe(false);
    expect(s.credentials.active_update).toBe(false);
    expect(s.roles.enabled).toBe(true);
  });
});

describe('settingsWrites', () => {
  it('a transient setting for one cache writes only that field', () => {
    expect(settingsWrites({ scope: 'credentials', values: { ttl_ms: 5 }, persistent: false })).toEqual([
      { layer: 'transient', field: 'credentials.ttl_ms', value: '5' },
    ]);
  });

  it('a setting for all caches clears the per-cache values of the same key in its layer', () => {
    expect(settingsWrites({ scope: 'all', values: { max_entries: 3 }, persistent: false })).toEqual([
      { layer: 'transient', field: 'all.max_entries', value: '3' },
      { layer: 'transient', field: 'credentials.max_entries', value: undefined },
      { layer: 'transient', field: 'roles.max_entries', value: undefined },
      { layer: 'transient', field: 'permissions.max_entries', value: undefined },
      { layer: 'transient', field: 'impersonation.max_entries', value: undefined },
    ]);
  });

  // Until this version a persistent write also wrote or cleared the transient layer: that asserted
  // the bug of issue 12 (OpenSearch keeps a transient value in force until it is reset).
  it('a persistent setting writes the persistent layer only', () => {
    expect(settingsWrites({ scope: 'roles', values: { active_update: true }, persistent: true })).toEqual([
      { layer: 'persistent', field: 'roles.active_update', value: 'true' },
    ]);
    expect(settingsWrites({ scope: 'all', values: { refresh_ms: 0 }, persistent: true })).toEqual([
      { layer: 'persistent', field: 'all.refresh_ms', value: '0' },
      { layer: 'persistent', field: 'credentials.refresh_ms', value: undefined },
      { layer: 'persistent', field: 'roles.refresh_ms', value: undefined },
      { layer: 'persistent', field: 'permissions.refresh_ms', value: undefined },
      { layer: 'persistent', field: 'impersonation.refresh_ms', value: undefined },
    ]);
  });

  it('a reset deletes the key named in its layer and scope, and nothing else', () => {
    const body = { scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] } as SettingsUpdate;
    expect(settingsWrites(body)).toEqual([{ layer: 'transient', field: 'all.ttl_ms', value: undefined }]);
  });

  it('more changes in one body write after the first, in order', () => {
    const body: SettingsUpdate = {
      scope: 'all',
      values: { ttl_ms: 9 },
      persistent: true,
      more: [{ scope: 'roles', values: { max_entries: 4 }, persistent: false, reset: ['ttl_ms'] }],
    };
    expect(settingsWrites(body)).toEqual([
      { layer: 'persistent', field: 'all.ttl_ms', value: '9' },
      { layer: 'persistent', field: 'credentials.ttl_ms', value: undefined },
      { layer: 'persistent', field: 'roles.ttl_ms', value: undefined },
      { layer: 'persistent', field: 'permissions.ttl_ms', value: undefined },
      { layer: 'persistent', field: 'impersonation.ttl_ms', value: undefined },
      { layer: 'transient', field: 'roles.ttl_ms', value: undefined },
      { layer: 'transient', field: 'roles.max_entries', value: '4' },
    ]);
    expect(changesOf(body)).toEqual([
      { scope: 'all', values: { ttl_ms: 9 }, persistent: true },
      { scope: 'roles', values: { max_entries: 4 }, persistent: false, reset: ['ttl_ms'] },
    ]);
  });

  it('no values, no writes', () => {
    expect(settingsWrites({ scope: 'all', values: {}, persistent: true })).toEqual([]);
  });
});

describe('applyWrites', () => {
  it('does not modify its input', () => {
    const o: Overlays = { transient: { all: { ttl_ms: 1 } }, persistent: { roles: { ttl_ms: 2 } } };
    const before = structuredClone(o);
    applyWrites(o, settingsWrites({ scope: 'all', values: { ttl_ms: 9 }, persistent: true }));
    expect(o).toEqual(before);
  });

  it('drops a scope left with no values', () => {
    const o = applyWrites(empty(), settingsWrites({ scope: 'credentials', values: { ttl_ms: 1 }, persistent: false }));
    expect(o.transient).toEqual({ credentials: { ttl_ms: 1 } });
    // A persistent write leaves the transient layer alone (until this version it emptied it here).
    const p = applyWrites(o, settingsWrites({ scope: 'all', values: { ttl_ms: 2 }, persistent: true }));
    expect(p).toEqual({ transient: { credentials: { ttl_ms: 1 } }, persistent: { all: { ttl_ms: 2 } } });
    const t = applyWrites(p, settingsWrites({ scope: 'all', values: { ttl_ms: 3 }, persistent: false }));
    expect(t).toEqual({ transient: { all: { ttl_ms: 3 } }, persistent: { all: { ttl_ms: 2 } } });
    const r = applyWrites(t, settingsWrites({ scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] } as SettingsUpdate));
    expect(r).toEqual({ transient: {}, persistent: { all: { ttl_ms: 2 } } });
  });

  it('a transient setting for all caches overrides earlier per-cache transient ones', () => {
    let o = applyWrites(empty(), settingsWrites({ scope: 'credentials', values: { ttl_ms: 1 }, persistent: false }));
    o = applyWrites(o, settingsWrites({ scope: 'all', values: { ttl_ms: 2 }, persistent: false }));
    expect(effectiveSettings(DEFAULTS, o).credentials.ttl_ms).toBe(2);
  });
});

describe('overlayFromHash', () => {
  it('reads every valid field', () => {
    expect(
      overlayFromHash({ 'all.ttl_ms': '5', 'credentials.max_entries': '7', 'roles.active_update': 'true', 'roles.refresh_ms': '0' }),
    ).toEqual({ all: { ttl_ms: 5 }, credentials: { max_entries: 7 }, roles: { active_update: true, refresh_ms: 0 } });
  });

  it.each([
    ['unknown scope', 'users.ttl_ms', '5'],
    ['unknown key', 'all.ttl', '5'],
    ['no dot', 'ttl_ms', '5'],
    ['bad JSON', 'all.ttl_ms', '{'],
    ['string for a number', 'all.ttl_ms', '"5"'],
    ['number for a boolean', 'all.active_update', '1'],
    ['boolean for a number', 'roles.max_entries', 'true'],
    ['null', 'all.refresh_ms', 'null'],
  ])('skips and reports a field with %s', (_why, field, raw) => {
    const bad: string[] = [];
    expect(overlayFromHash({ [field]: raw, 'all.max_entries': '3' }, (f) => bad.push(f))).toEqual({ all: { max_entries: 3 } });
    expect(bad).toEqual([field]);
  });

  it('works without a reporter', () => {
    expect(overlayFromHash({ 'x.y': '1' })).toEqual({});
  });
});

// --- properties ---------------------------------------------------------------------------

const valuesArb: fc.Arbitrary<SettingsValues> = fc.record(
  {
    ttl_ms: fc.integer({ min: 0, max: 1_000_000 }),
    max_entries: fc.integer({ min: 1, max: 1_000_000 }),
    refresh_ms: fc.integer({ min: 0, max: 1_000_000 }),
    active_update: fc.boolean(),
  },
  { requiredKeys: [] },
);
const scopeArb = fc.constantFrom('all' as const, 'credentials' as const, 'roles' as const);
const resetArb: fc.Arbitrary<ValueKey[]> = fc.subarray([...VALUE_KEYS]);
const changeArb: fc.Arbitrary<LayerChange> = fc
  .record({ scope: scopeArb, values: valuesArb, persistent: fc.boolean(), reset: resetArb })
  // A reset of a key the same change sets would be meaningless: the HTTP layer never sends one.
  .map(({ reset, ...c }) => ({ ...c, ...(reset.filter((k) => c.values[k] === undefined).length > 0 ? { reset: reset.filter((k) => c.values[k] === undefined) } : {}) }));
/** Plain bodies, as the protocol carries today, and bodies with resets and more changes. */
const bodyArb: fc.Arbitrary<SetSettingsBody> = fc.oneof(
  fc.record({ scope: scopeArb, values: valuesArb, persistent: fc.boolean() }),
  fc.tuple(changeArb, fc.array(changeArb, { maxLength: 3 })).map(([c, more]): SettingsUpdate => (more.length > 0 ? { ...c, more } : c)),
);
const bodiesArb = fc.array(bodyArb, { maxLength: 12 });

/** What the publish script does to the two Redis hashes: HSET or HDEL per write. */
function applyToHashes(hashes: { transient: Record<string, string>; persistent: Record<string, string> }, writes: SettingsWrite[]): void {
  for (const w of writes) {
    if (w.value === undefined) delete hashes[w.layer][w.field];
    else hashes[w.layer][w.field] = w.value;
  }
}

const run = (bodies: SetSettingsBody[]): Overlays => bodies.reduce((o, b) => applyWrites(o, settingsWrites(b)), empty());
const cachesOf = (scope: LayerChange['scope']): CacheName[] => (scope === 'all' ? ['credentials', 'roles'] : [scope]);

describe('settings properties', () => {
  it('applying each body in turn equals one applyWrites of all their writes from scratch', () => {
    fc.assert(
      fc.property(bodiesArb, (bodies) => {
        expect(run(bodies)).toEqual(applyWrites(empty(), bodies.flatMap(settingsWrites)));
      }),
    );
  });

  it('a node applying updates in order reaches what a node reading the Redis hashes afterwards reads', () => {
    fc.assert(
      fc.property(bodiesArb, (bodies) => {
        let applied = empty();
        const hashes = { transient: {} as Record<string, string>, persistent: {} as Record<string, string> };
        for (const b of bodies) {
          const w = settingsWrites(b);
          applied = applyWrites(applied, w);
          applyToHashes(hashes, w);
        }
        const bad: string[] = [];
        const read: Overlays = { transient: overlayFromHash(hashes.transient, (f) => bad.push(f)), persistent: overlayFromHash(hashes.persistent, (f) => bad.push(f)) };
        expect(bad).toEqual([]);
        expect(read).toEqual(applied);
        expect(effectiveSettings(DEFAULTS, read)).toEqual(effectiveSettings(DEFAULTS, applied));
      }),
    );
  });

  it('applying the same body twice changes nothing more', () => {
    fc.assert(
      fc.property(bodiesArb, bodyArb, (before, b) => {
        const once = applyWrites(run(before), settingsWrites(b));
        expect(applyWrites(once, settingsWrites(b))).toEqual(once);
      }),
    );
  });

  it('after a transient change, its values are in effect for the caches it names', () => {
    fc.assert(
      fc.property(bodiesArb, changeArb, (before, c0) => {
        const c = { ...c0, persistent: false };
        const eff = effectiveSettings(DEFAULTS, applyWrites(run(before), settingsWrites(c)));
        for (const cache of cachesOf(c.scope)) for (const [k, v] of Object.entries(c.values)) expect(eff[cache][k as ValueKey]).toBe(v);
      }),
    );
  });

  it('a persistent change never touches the transient layer', () => {
    fc.assert(
      fc.property(bodiesArb, changeArb, (before, c0) => {
        const o = run(before);
        expect(applyWrites(o, settingsWrites({ ...c0, persistent: true })).transient).toEqual(o.transient);
      }),
    );
  });

  it('after a persistent change, its values are in effect wherever no transient value covers the key', () => {
    fc.assert(
      fc.property(bodiesArb, changeArb, (before, c0) => {
        const c = { ...c0, persistent: true };
        const o = applyWrites(run(before), settingsWrites(c));
        const eff = effectiveSettings(DEFAULTS, o);
        for (const cache of cachesOf(c.scope)) {
          for (const [k, v] of Object.entries(c.values)) {
            const transient = o.transient[cache]?.[k as ValueKey] ?? o.transient.all?.[k as ValueKey];
            expect(eff[cache][k as ValueKey]).toBe(transient ?? v);
          }
        }
      }),
    );
  });

  it('after a reset, the key is in effect as the layers below (or the other scope of its layer) say', () => {
    fc.assert(
      fc.property(bodiesArb, scopeArb, fc.boolean(), fc.constantFrom(...VALUE_KEYS), (before, scope, persistent, key) => {
        const o = run(before);
        const reset = applyWrites(o, settingsWrites({ scope, values: {}, persistent, reset: [key] } as SettingsUpdate));
        const layer = persistent ? 'persistent' : 'transient';
        expect(reset[layer][scope]?.[key]).toBeUndefined();
        // The same state as if the key had never been set there.
        const without = structuredClone(o);
        if (without[layer][scope]) {
          delete without[layer][scope]![key];
          if (Object.keys(without[layer][scope]!).length === 0) delete without[layer][scope];
        }
        expect(reset).toEqual(without);
      }),
    );
  });

  it('a transient value stays in force over a later persistent one until it is reset', () => {
    let o = applyWrites(empty(), settingsWrites({ scope: 'all', values: { ttl_ms: 5000 }, persistent: false }));
    o = applyWrites(o, settingsWrites({ scope: 'credentials', values: { ttl_ms: 60_000 }, persistent: true }));
    o = applyWrites(o, settingsWrites({ scope: 'all', values: { ttl_ms: 90_000 }, persistent: true }));
    expect(effectiveSettings(DEFAULTS, o).credentials.ttl_ms).toBe(5000);
    expect(effectiveSettings(DEFAULTS, o).roles.ttl_ms).toBe(5000);
    o = applyWrites(o, settingsWrites({ scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] } as SettingsUpdate));
    // The persistent value for every cache cleared the credentials one in its layer.
    expect(effectiveSettings(DEFAULTS, o).credentials.ttl_ms).toBe(90_000);
    expect(effectiveSettings(DEFAULTS, o).roles.ttl_ms).toBe(90_000);
  });
});
