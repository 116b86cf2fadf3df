/**
 * Settings writes as the generic StoreOps the publish script applies in the same atomic step as
 * the update (docs/architecture.md, "Propagation", Publish): one path for settings and role rows.
 */
import type { ClusterNames } from '@authcache/protocol';
import type { SettingsWrite } from '../cache/settings';
import type { StoreOp } from './transport';

/** Pure: in write order, one hset or hdel per write, on the layer's hash. */
export function settingsOps(names: Pick<ClusterNames, 'settingsTransient' | 'settingsPersistent'>, writes: readonly SettingsWrite[]): StoreOp[] {
  return writes.map((w): StoreOp => {
    const key = w.layer === 'transient' ? names.settingsTransient : names.settingsPersistent;
    return w.value === undefined ? { op: 'hdel', key, fields: [w.field] } : { op: 'hset', key, fields: { [w.field]: w.value } };
  });
}
