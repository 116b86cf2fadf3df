/**
 * Directory changes to ConfigUpdates. Exactly one node (the holder of a Redis lease) polls the
 * user and group bases every AUTHCACHE_LDAP_POLL_MS for entries with `modifyTimestamp >= mark`
 * and publishes ONE invalidation of the users they affect:
 * - a changed user (password, lock, attributes): that user;
 * - a changed group: everyone who held it before or holds it now, through nested groups; the
 *   "before" comes from the holder's snapshot of memberships, so a user removed from a group
 *   (or deleted, where refint/memberof-refint strips it from its groups) is invalidated too.
 * Every AUTHCACHE_LDAP_RESCAN_MS the snapshot is read again and compared whole, which catches
 * what leaves no modifyTimestamp behind (an entry deleted without refint, a group deleted or renamed).
 *
 * The mark is a directory timestamp (never this node's clock) kept in Redis, so a node taking
 * the lease over resumes where the last holder stopped. modifyTimestamp has one-second
 * granularity, so entries of the mark's second come back at the next poll: one already reported
 * with the same entryCSN / uSNChanged is skipped; on a server with neither, it is reported again
 * until it has been seen SAME_SECOND_MS after its second (a second change within it is not lost).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Lease } from '../../lease';
import type { LdapConfig } from './config';
import type { Directory } from './directory';
import { dnKey, formatGeneralizedTime, parseGeneralizedTime } from './filters';
import type { Entry } from 'ldapts';
import { entryVersion, first, readEntries, readSnapshot, type Snapshot } from './snapshot';

/** Past this long after an entry's second (server vs node clock skew included), nothing can still change within it. */
const SAME_SECOND_MS = 2000;

export interface ChangePollerDeps {
  cfg: LdapConfig;
  dir: Directory;
  lease: Lease;
  redis: Redis;
  /** Redis key of the mark (GeneralizedTime of the newest change published). */
  markKey: string;
  /** Publishes ONE invalidation of these users. */
  invalidate(usernames: string[]): Promise<unknown>;
  log: Logger;
  now?: () => number;
}

export class ChangePoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private snap: Snapshot | undefined;
  private mark: number | undefined;
  private lastRescan = 0;
  /** `${dnKey}|${version or modifyTimestamp}` -> when it was last reported and the entry's modifyTimestamp. */
  private readonly seen = new Map<string, { at: number; ts: number; exact: boolean }>();
  /**
   * Left by a rescan for the poll after it: entry versions its snapshot read already held, and the
   * users it invalidates. A change made between the rescan's poll and its read is in that read, so
   * its users are published after it; the next poll returns the entry again and must not publish
   * them twice (it does publish the users the rescan's comparison did not find, such as a password change).
   */
  private covered: { versions: Set<string>; users: Set<string> } | undefined;
  /** Users affected by changes whose invalidation is not published yet (kept across a failed publish). */
  private readonly pending = new Set<string>();
  private stopped = false;
  private readonly now: () => number;
  /** Published invalidations, for tests and metrics. */
  published = 0;
  /** When the rounds of this holder started failing (undefined: the last round succeeded, or no lease). */
  private failingSince: number | undefined;

  constructor(private readonly d: ChangePollerDeps) {
    this.now = d.now ?? Date.now;
  }

  start(): void {
    if (this.d.cfg.pollMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.d.cfg.pollMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.d.lease.release();
  }

  /** One round (exposed for tests): hold the lease, then snapshot or poll. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    if (!(await this.d.lease.tryHold())) {
      // Someone else polls; start from a fresh snapshot if the lease comes back.
      this.snap = undefined;
      this.failingSince = undefined;
      return;
    }
    try {
      if (this.snap === undefined) await this.begin();
      else if (this.d.cfg.rescanMs > 0 && this.now() - this.lastRescan >= this.d.cfg.rescanMs) await this.rescan();
      else await this.poll();
      await this.publish();
      if (this.failingSince !== undefined) this.d.log.info('LDAP change poll succeeds again');
      this.failingSince = undefined;
    } catch (err) {
      const first = this.failingSince === undefined;
      this.failingSince ??= this.now();
      // sizeLimitExceeded (4) on the whole read is a server limit, not an outage: say what to change.
      const code = (err as { code?: unknown }).code;
      const hint = code === 4 ? "; the directory's size limit is below the number of users or groups: raise it for the service account (OpenLDAP: limits dn.exact=\"<bind DN>\" size=unlimited)" : '';
      this.d.log[first ? 'error' : 'warn']({ err: String(err) }, `LDAP change poll failed; retrying at the next interval${hint}`);
    }
  }

  /**
   * True while this node holds the lease and its rounds have failed for two intervals or more:
   * directory changes are then not propagated within the stated bound, which /health must show
   * (one failed round, a blip, does not flap it).
   */
  failing(): boolean {
    return this.failingSince !== undefined && this.now() - this.failingSince >= 2 * this.d.cfg.pollMs;
  }

  /** Lease gained: snapshot, then catch up from the last holder's mark (if any). */
  private async begin(): Promise<void> {
    this.covered = undefined;
    const saved = await this.d.redis.get(this.d.markKey).catch(() => null);
    const snap = await readSnapshot(this.d.dir, this.d.cfg);
    this.snap = snap;
    this.lastRescan = this.now();
    const from = saved === null ? undefined : parseGeneralizedTime(saved);
    if (from !== undefined) {
      this.mark = from;
      await this.poll();
    } else {
      this.mark = snap.maxTimestamp ?? this.now();
      // What the snapshot saw at the mark's second is known, as if reported now.
      for (const [k, { ts, version }] of snap.stamps) {
        if (ts === this.mark) this.seen.set(`${k}|${version ?? ts}`, { at: this.now(), ts, exact: version !== undefined });
      }
    }
  }

  private async poll(): Promise<void> {
    const snap = this.snap!;
    const since = formatGeneralizedTime(this.mark!);
    const { users, disabled, groups } = await readEntries(this.d.dir, this.d.cfg, since);
    let newest = this.mark!;
    const covered = this.covered;
    const report = (names: Iterable<string>) => {
      for (const n of names) this.pending.add(n);
    };
    const reportUncovered = (names: Iterable<string>) => {
      for (const n of names) if (!covered!.users.has(n)) this.pending.add(n);
    };
    /** How to report the entry's users: undefined when it was reported already. */
    const fresh = (e: Entry): ((users: Iterable<string>) => void) | undefined => {
      const raw = first(e, 'modifyTimestamp');
      const ts = raw === undefined ? undefined : parseGeneralizedTime(raw);
      if (ts === undefined) return report;
      if (ts > newest) newest = ts;
      const version = entryVersion(e);
      const key = `${dnKey(e.dn)}|${version ?? ts}`;
      const last = this.seen.get(key);
      if (last !== undefined && (last.exact || last.at >= ts + SAME_SECOND_MS)) return undefined;
      this.seen.set(key, { at: this.now(), ts, exact: version !== undefined });
      return version !== undefined && covered?.versions.has(key) ? reportUncovered : report;
    };
    for (const e of users) {
      const add = fresh(e);
      if (!add) continue;
      const old = snap.users.get(dnKey(e.dn));
      if (old) add([old.name]);
      const u = snap.putUser(e, disabled.has(dnKey(e.dn)));
      if (u) add([u.name]);
    }
    for (const e of groups) {
      const add = fresh(e);
      if (!add) continue;
      const k = dnKey(e.dn);
      add(snap.holdersOfGroup(k));
      snap.putGroup(e);
      add(snap.holdersOfGroup(k));
    }
    this.covered = undefined;
    this.mark = newest;
    for (const [key, s] of this.seen) if (s.ts < newest) this.seen.delete(key);
  }

  /** The whole directory again, compared with the snapshot: deletions and renames. */
  private async rescan(): Promise<void> {
    await this.poll();
    const old = this.snap!;
    const next = await readSnapshot(this.d.dir, this.d.cfg);
    for (const [k, u] of old.users) {
      const n = next.users.get(k);
      if (!n || n.name !== u.name || n.disabled !== u.disabled || !sameSet(n.memberOf, u.memberOf)) this.pending.add(u.name);
    }
    for (const [k, u] of next.users) if (!old.users.has(k)) this.pending.add(u.name);
    for (const [k, g] of old.groups) {
      const n = next.groups.get(k);
      if (!n || n.name !== g.name || !sameSet(n.members, g.members) || !sameSet(n.memberOf, g.memberOf)) {
        for (const u of old.holdersOfGroup(k)) this.pending.add(u);
        for (const u of next.holdersOfGroup(k)) this.pending.add(u);
      }
    }
    for (const k of next.groups.keys()) if (!old.groups.has(k)) for (const u of next.holdersOfGroup(k)) this.pending.add(u);
    // Everything pending is published after `next` was read (now, or after a failed publish, later).
    const versions = new Set<string>();
    for (const [k, { ts, version }] of next.stamps) if (version !== undefined && ts >= this.mark!) versions.add(`${k}|${version}`);
    this.covered = { versions, users: new Set(this.pending) };
    this.snap = next;
    this.lastRescan = this.now();
  }

  /** ONE invalidation of everything pending; on failure it stays pending and the mark is not saved. */
  private async publish(): Promise<void> {
    if (this.pending.size > 0) {
      const users = [...this.pending].sort();
      await this.d.invalidate(users);
      for (const u of users) this.pending.delete(u);
      this.published++;
      this.d.log.info({ users: users.length }, 'LDAP changes invalidated');
    }
    if (this.mark !== undefined && this.d.lease.isHeld) await this.d.redis.set(this.d.markKey, formatGeneralizedTime(this.mark)).catch(() => undefined);
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
