/**
 * The membership rules, pure: every age here is Redis's clock minus a stamp Redis wrote, so no
 * node's wall clock is ever compared with another's (docs/architecture.md, Membership).
 */

import type { Decoded, StoredHeartbeat } from './heartbeat-codec';

export interface LivenessRules {
  /** a member whose heartbeat is this old (or older) is DOWN */
  downAfterMs: number;
  /** a DOWN or departed member whose heartbeat is this old is deleted from the membership */
  forgetMs: number;
}

/** DOWN after three missed heartbeats plus scheduling slack. */
export function downAfterMs(heartbeatMs: number): number {
  return 3 * heartbeatMs + 500;
}

export function rulesFor(heartbeatMs: number, forgetMs: number): LivenessRules {
  return { downAfterMs: downAfterMs(heartbeatMs), forgetMs };
}

/** Redis `TIME` ([seconds, microseconds] as strings) in ms. */
export function redisTimeMs(time: readonly [unknown, unknown]): number {
  return Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
}

export type MemberState = 'up' | 'down' | 'left';

export interface Judged extends StoredHeartbeat {
  /** how old the heartbeat is by Redis's clock (0 if Redis's clock went back past it) */
  ageMs: number;
  state: MemberState;
  /** past the forget time: no longer a member, to be deleted */
  forget: boolean;
}

export function judge(entry: StoredHeartbeat, redisNowMs: number, rules: LivenessRules): Judged {
  const ageMs = Math.max(0, redisNowMs - entry.stampMs);
  const state: MemberState = entry.hb.left ? 'left' : ageMs < rules.downAfterMs ? 'up' : 'down';
  // A live member is never forgotten, whatever the forget time.
  return { ...entry, ageMs, state, forget: state !== 'up' && ageMs >= rules.forgetMs };
}

/** Who must acknowledge an update: the live members, and those that went silent without leaving. */
export interface ExpectedMembers {
  live: string[];
  down: Array<{ node: string; last_seen_ms: number }>;
}

/**
 * Live members are waited for; silent ones are failures with their age; departed and forgotten ones
 * are neither. `sinceReadMs`: members judged that long ago (a reused read, membership.ts) keep the
 * state they had then — a member that went silent since is still waited for (and reported as a
 * timeout), never one still beating reported down — and a silent one's age grows by it.
 */
export function expectedOf(members: readonly Judged[], sinceReadMs = 0): ExpectedMembers {
  const kept = members.filter((m) => !m.forget).sort((a, b) => a.id.localeCompare(b.id));
  return {
    live: kept.filter((m) => m.state === 'up').map((m) => m.id),
    down: kept.filter((m) => m.state === 'down').map((m) => ({ node: m.id, last_seen_ms: m.ageMs + Math.max(0, Math.round(sinceReadMs)) })),
  };
}

/**
 * Members UP at an earlier read and missing from the hash now (`present`: every id the read
 * returned), with no leave or removal seen. Neither happens to an UP member — a leave keeps its
 * entry, marked; a removal or a forget needs it DOWN first — so Redis lost its state (a restart
 * without persistence, a failover to an empty replica), not the members. They are still waited
 * for until they would have gone DOWN (`lastUp`: id → local time it was last known UP), and their
 * next heartbeat writes them back; without this an admin call in that heartbeat answered for
 * the origin alone.
 */
export function vanished(lastUp: ReadonlyMap<string, number>, present: ReadonlySet<string>, nowMs: number, rules: LivenessRules): string[] {
  return [...lastUp].filter(([id, at]) => !present.has(id) && nowMs - at < rules.downAfterMs).map(([id]) => id);
}

/** Keeps `lastUp` (id → local time last known UP) current after a read taken at `at`: UP members noted, others and those too old dropped. */
export function noteUp(lastUp: Map<string, number>, members: readonly Judged[], at: number, rules: LivenessRules): void {
  for (const m of members) {
    if (m.state === 'up') lastUp.set(m.id, at - m.ageMs);
    else lastUp.delete(m.id);
  }
  for (const [id, seenAt] of lastUp) if (at - seenAt >= rules.downAfterMs) lastUp.delete(id);
}

/**
 * Whether some other process is heartbeating now. A fresh heartbeat that fails its signature counts
 * too: this node cannot tell whether its own secret or the other's is wrong, and "not alone" is the
 * side that deletes nothing.
 */
export function othersPresent(self: string, members: readonly Judged[], rejects: readonly Decoded[], redisNowMs: number, rules: LivenessRules): boolean {
  if (members.some((m) => m.id !== self && m.state === 'up')) return true;
  return rejects.some((r) => !r.ok && r.id !== self && r.stampMs !== undefined && redisNowMs - r.stampMs < rules.downAfterMs);
}

/** A rejected entry whose Redis stamp is past the forget time is deleted like a forgotten member. */
export function rejectForgettable(r: Decoded, redisNowMs: number, rules: LivenessRules): boolean {
  return !r.ok && r.stampMs !== undefined && redisNowMs - r.stampMs >= rules.forgetMs;
}
