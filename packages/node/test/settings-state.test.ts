import type { SettingsValues } from '@authcache/protocol';
import { settingsDefaults, settingsWrites, type SettingsUpdate } from '../src/cache/settings';
import { SettingsState, SettingsStore, type SettingsRedis } from '../src/cache/settings-state';

const DEFAULTS: Required<SettingsValues> = { ttl_ms: 1000, max_entries: 10, refresh_ms: 0, active_update: false };

describe('SettingsState', () => {
  it('starts at the environment defaults, with empty overlays', () => {
    const s = new SettingsState(DEFAULTS);
    const d = { ...DEFAULTS, enabled: true };
    expect(s.effective()).toEqual({ credentials: d, roles: d, permissions: d, impersonation: d });
    expect(s.overlays()).toEqual({ transient: {}, persistent: {} });
  });

  it('load replaces both overlays with the hashes and reports the fields it skips', () => {
    const s = new SettingsState(DEFAULTS);
    s.applyUpdate({ scope: 'roles', values: { max_entries: 3 }, persistent: false });
    const bad: string[] = [];
    s.load({ transient: { 'all.ttl_ms': '5', 'x.y': '1' }, persistent: { 'credentials.ttl_ms': '7', 'all.ttl_ms': 'nope' } }, (layer, f) => bad.push(`${layer}:${f}`));
    expect(s.overlays()).toEqual({ transient: { all: { ttl_ms: 5 } }, persistent: { credentials: { ttl_ms: 7 } } });
    expect(bad).toEqual(['transient:x.y', 'persistent:all.ttl_ms']);
    expect(s.effective().credentials.ttl_ms).toBe(5);
    expect(s.effective().roles.max_entries).toBe(10);
  });

  it('apply takes the writes of an update; applyUpdate the update itself', () => {
    const a = new SettingsState(DEFAULTS);
    const b = new SettingsState(DEFAULTS);
    const u: SettingsUpdate = { scope: 'all', values: { ttl_ms: 0 }, persistent: true, more: [{ scope: 'credentials', values: { ttl_ms: 9 }, persistent: false }] };
    a.apply(settingsWrites(u));
    b.applyUpdate(u);
    expect(a.overlays()).toEqual(b.overlays());
    const off = { ...DEFAULTS, ttl_ms: 0, enabled: false };
    expect(a.effective()).toEqual({ credentials: { ...DEFAULTS, ttl_ms: 9, enabled: true }, roles: off, permissions: off, impersonation: off });
  });

  it('keeps a transient value in force over a persistent write until it is reset', () => {
    const s = new SettingsState(DEFAULTS);
    s.applyUpdate({ scope: 'all', values: { ttl_ms: 30 }, persistent: false });
    s.applyUpdate({ scope: 'all', values: { ttl_ms: 90 }, persistent: true });
    expect(s.effective().credentials.ttl_ms).toBe(30);
    s.applyUpdate({ scope: 'all', values: {}, persistent: false, reset: ['ttl_ms'] } as SettingsUpdate);
    expect(s.effective().credentials.ttl_ms).toBe(90);
    s.applyUpdate({ scope: 'all', values: {}, persistent: true, reset: ['ttl_ms'] } as SettingsUpdate);
    expect(s.effective().credentials.ttl_ms).toBe(1000);
  });

  it('hands out the same effective object until a change, and copies of the overlays', () => {
    const s = new SettingsState(DEFAULTS);
    const first = s.effective();
    expect(s.effective()).toBe(first);
    s.overlays().transient.all = { ttl_ms: 1 };
    expect(s.overlays()).toEqual({ transient: {}, persistent: {} });
    s.apply([]);
    expect(s.effective()).toBe(first);
    s.applyUpdate({ scope: 'roles', values: { refresh_ms: 5 }, persistent: false });
    expect(s.effective()).not.toBe(first);
  });

  it('tells its listeners of every change, until they unsubscribe', () => {
    const s = new SettingsState(DEFAULTS);
    const seen: number[] = [];
    const off = s.onChange((e) => seen.push(e.credentials.ttl_ms));
    s.applyUpdate({ scope: 'credentials', values: { ttl_ms: 5 }, persistent: false });
    s.load({ transient: {}, persistent: { 'all.ttl_ms': '6' } });
    off();
    s.applyUpdate({ scope: 'credentials', values: { ttl_ms: 7 }, persistent: false });
    expect(seen).toEqual([5, 6]);
  });

  it('settingsDefaults maps the node configuration', () => {
    expect(settingsDefaults({ ttlMs: 1, maxEntries: 2, refreshMs: 3, activeUpdate: true })).toEqual({ ttl_ms: 1, max_entries: 2, refresh_ms: 3, active_update: true });
  });
});

describe('SettingsStore', () => {
  const names = { settingsTransient: 'c:settings:transient', settingsPersistent: 'c:settings:persistent' };

  it('reads both hashes and clears the transient one', async () => {
    const hashes: Record<string, Record<string, string>> = { [names.settingsTransient]: { 'all.ttl_ms': '1' }, [names.settingsPersistent]: { 'roles.ttl_ms': '2' } };
    const redis: SettingsRedis = {
      hgetall: async (k) => ({ ...hashes[k] }),
      del: async (...keys) => keys.filter((k) => delete hashes[k]).length,
    };
    const store = new SettingsStore(redis, names);
    expect(await store.read()).toEqual({ transient: { 'all.ttl_ms': '1' }, persistent: { 'roles.ttl_ms': '2' } });
    await store.clearTransient();
    expect(await store.read()).toEqual({ transient: {}, persistent: { 'roles.ttl_ms': '2' } });
  });
});
