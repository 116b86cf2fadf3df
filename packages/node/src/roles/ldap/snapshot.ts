/**
 * The directory's users and groups read whole (paged): what list() and holdersOf() answer from,
 * and the membership the change poller compares against, so that a user removed from a group
 * (or deleted, with refint/memberof-refint) is still known to have held it.
 */
import type { Entry } from 'ldapts';
import { holdersOf } from '../grant-graph';
import type { RoleRecord } from '../role-store';
import type { LdapConfig } from './config';
import type { Directory } from './directory';
import { and, dnKey, isUnder, parseGeneralizedTime, presenceFilter } from './filters';

/** Every value of `attr` (attribute names are case-insensitive) as strings. */
export function values(entry: Entry, attr: string): string[] {
  const want = attr.toLowerCase();
  for (const [k, v] of Object.entries(entry)) {
    if (k.toLowerCase() !== want || k === 'dn') continue;
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
  }
  return [];
}

export const first = (entry: Entry, attr: string): string | undefined => values(entry, attr)[0];

export interface SnapUser {
  name: string;
  dn: string;
  disabled: boolean;
  /** Keys of the groups named by the entry's memberOf attribute (memberOf mode). */
  memberOf: string[];
}
export interface SnapGroup {
  name: string;
  dn: string;
  /** Keys of member DNs, or plain usernames (memberUid). */
  members: string[];
  memberOf: string[];
}

/**
 * Per-entry change stamps finer than modifyTimestamp's second, where the server has one:
 * OpenLDAP's entryCSN (microseconds), Active Directory's uSNChanged. Servers ignore the one they lack.
 */
export const VERSION_ATTRS = ['entryCSN', 'uSNChanged'];

export function entryVersion(entry: Entry): string | undefined {
  for (const a of VERSION_ATTRS) {
    const v = first(entry, a);
    if (v !== undefined) return v;
  }
  return undefined;
}

export function userAttrs(cfg: LdapConfig): string[] {
  return [cfg.usernameAttr, 'modifyTimestamp', ...VERSION_ATTRS, ...(cfg.memberOfAttr ? [cfg.memberOfAttr] : [])];
}
export function groupAttrs(cfg: LdapConfig): string[] {
  return [cfg.groupNameAttr, cfg.groupMemberAttr, 'modifyTimestamp', ...VERSION_ATTRS, ...(cfg.memberOfAttr ? [cfg.memberOfAttr] : [])];
}

export class Snapshot {
  readonly users = new Map<string, SnapUser>();
  readonly groups = new Map<string, SnapGroup>();
  /** The newest modifyTimestamp seen (epoch ms). */
  maxTimestamp: number | undefined;
  /** dnKey -> modifyTimestamp (epoch ms) and version of every entry read. */
  readonly stamps = new Map<string, { ts: number; version: string | undefined }>();

  constructor(private readonly cfg: LdapConfig) {}

  noteTimestamp(entry: Entry): number | undefined {
    const ts = first(entry, 'modifyTimestamp');
    const ms = ts === undefined ? undefined : parseGeneralizedTime(ts);
    if (ms !== undefined) this.stamps.set(dnKey(entry.dn), { ts: ms, version: entryVersion(entry) });
    if (ms !== undefined && (this.maxTimestamp === undefined || ms > this.maxTimestamp)) this.maxTimestamp = ms;
    return ms;
  }

  /** Records a user entry; the username is the entry's username attribute (the first value). */
  putUser(entry: Entry, disabled: boolean): SnapUser | undefined {
    const name = first(entry, this.cfg.usernameAttr);
    if (name === undefined) return undefined;
    const memberOf = this.cfg.memberOfAttr ? values(entry, this.cfg.memberOfAttr).filter((d) => isUnder(d, this.cfg.groupBase)).map(dnKey) : [];
    const u = { name, dn: entry.dn, disabled, memberOf };
    this.users.set(dnKey(entry.dn), u);
    this.index = undefined;
    return u;
  }

  putGroup(entry: Entry): SnapGroup | undefined {
    const name = first(entry, this.cfg.groupNameAttr);
    if (name === undefined) return undefined;
    const members = values(entry, this.cfg.groupMemberAttr).map((m) => (m.includes('=') ? dnKey(m) : m));
    const memberOf = this.cfg.memberOfAttr ? values(entry, this.cfg.memberOfAttr).filter((d) => isUnder(d, this.cfg.groupBase)).map(dnKey) : [];
    const g = { name, dn: entry.dn, members, memberOf };
    this.groups.set(dnKey(entry.dn), g);
    this.index = undefined;
    return g;
  }

  /** member value -> groups listing it, and group -> entries whose memberOf names it; rebuilt after a change. */
  private index: { byMember: Map<string, Set<string>>; byMemberOf: Map<string, Set<string>> } | undefined;

  private indexes(): NonNullable<Snapshot['index']> {
    if (this.index) return this.index;
    const byMember = new Map<string, Set<string>>();
    const byMemberOf = new Map<string, Set<string>>();
    const add = (m: Map<string, Set<string>>, k: string, v: string) => (m.get(k) ?? m.set(k, new Set()).get(k)!).add(v);
    for (const [gk, g] of this.groups) for (const m of g.members) add(byMember, m, gk);
    for (const [k, e] of [...this.users, ...this.groups]) for (const gk of e.memberOf) add(byMemberOf, gk, k);
    this.index = { byMember, byMemberOf };
    return this.index;
  }

  /** Keys of the groups `key` (a user's or group's DN key) is directly in. */
  parentsOf(key: string): string[] {
    const out = new Set<string>();
    const u = this.users.get(key);
    const g = this.groups.get(key);
    for (const p of u?.memberOf ?? g?.memberOf ?? []) if (this.groups.has(p)) out.add(p);
    const { byMember } = this.indexes();
    for (const gk of byMember.get(key) ?? []) out.add(gk);
    if (u !== undefined) for (const gk of byMember.get(u.name) ?? []) out.add(gk);
    return [...out];
  }

  /** The usernames that hold group `key`, directly or through nested groups (within the depth bound). */
  holdersOfGroup(key: string): Set<string> {
    const out = new Set<string>();
    const seen = new Set<string>([key]);
    let frontier = [key];
    for (let depth = 0; depth < this.cfg.groupDepth && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const gk of frontier) {
        const g = this.groups.get(gk);
        const children = new Set<string>([...(g?.members ?? []), ...(this.indexes().byMemberOf.get(gk) ?? [])]);
        for (const c of children) {
          if (seen.has(c)) continue;
          seen.add(c);
          const u = this.users.get(c);
          if (u) out.add(u.name);
          else if (this.groups.has(c)) next.push(c);
          else if (!c.includes('=')) out.add(c); // memberUid: a username
        }
      }
      frontier = next;
    }
    return out;
  }

  /** Users first (a group named like a user is hidden), sorted by name. */
  records(): RoleRecord[] {
    const byName = new Map<string, RoleRecord>();
    const names = (keys: string[]) => [...new Set(keys.map((k) => this.groups.get(k)!.name))].sort();
    for (const [k, u] of this.users) {
      if (!byName.has(u.name)) byName.set(u.name, { name: u.name, hash: undefined, canLogin: !u.disabled, superuser: false, memberOf: names(this.parentsOf(k)) });
    }
    for (const [k, g] of this.groups) {
      if (!byName.has(g.name)) byName.set(g.name, { name: g.name, hash: undefined, canLogin: false, superuser: g.name === this.cfg.adminGroup, memberOf: names(this.parentsOf(k)) });
    }
    return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  holdersOf(name: string): string[] {
    return holdersOf(name, this.records());
  }
}

/** Entries of one kind, changed at or after `sinceMs` when given. */
export function kindFilter(cfg: LdapConfig, kind: 'user' | 'group', since?: string): string {
  const base = presenceFilter(kind === 'user' ? cfg.userFilter : cfg.groupFilter);
  return and(base, since === undefined ? undefined : `(modifyTimestamp>=${since})`);
}

/** Reads users (with their disabled state) and groups; `since` limits it to entries changed since then. */
export async function readEntries(
  dir: Directory,
  cfg: LdapConfig,
  since?: string,
): Promise<{ users: Entry[]; disabled: Set<string>; groups: Entry[] }> {
  const paged = { pageSize: 500 };
  const userFilter = kindFilter(cfg, 'user', since);
  const [users, disabledEntries, groups] = await Promise.all([
    dir.search(cfg.userBase, { scope: 'sub', filter: userFilter, attributes: userAttrs(cfg), paged }),
    cfg.disabledFilter ? dir.search(cfg.userBase, { scope: 'sub', filter: and(userFilter, cfg.disabledFilter), attributes: ['1.1'], paged }) : Promise.resolve([]),
    dir.search(cfg.groupBase, { scope: 'sub', filter: kindFilter(cfg, 'group', since), attributes: groupAttrs(cfg), paged }),
  ]);
  return { users, disabled: new Set(disabledEntries.map((e) => dnKey(e.dn))), groups };
}

export async function readSnapshot(dir: Directory, cfg: LdapConfig): Promise<Snapshot> {
  const { users, disabled, groups } = await readEntries(dir, cfg);
  const snap = new Snapshot(cfg);
  for (const e of users) {
    snap.noteTimestamp(e);
    snap.putUser(e, disabled.has(dnKey(e.dn)));
  }
  for (const e of groups) {
    snap.noteTimestamp(e);
    snap.putGroup(e);
  }
  return snap;
}
