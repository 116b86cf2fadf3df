import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ClusterNames, NodeInfo } from '@authcache/protocol';
import type { Config } from './config';
import { HeartbeatCodec, sameText, secretMarker, type Decoded, type Heartbeat, type HeartbeatContent } from './membership/heartbeat-codec';
import { downAfterMs, expectedOf, judge, noteUp, vanished, othersPresent, rejectForgettable, rulesFor, type ExpectedMembers, type Judged, type LivenessRules } from './membership/liveness';
import { MembershipScripts, type MemberStore } from './membership/scripts';

export type { ExpectedMembers, Heartbeat, HeartbeatContent };

/** One member as GET /v1/cluster/nodes shows it: the body is defined once, in the protocol's api module. */
export type Member = NodeInfo;

export interface MembershipOptions {
  redis: Redis;
  names: ClusterNames;
  /** nodeId, heartbeatMs, clusterSecret and memberForgetMs. */
  config: Pick<Config, 'nodeId' | 'heartbeatMs' | 'clusterSecret' | 'memberForgetMs'>;
  log: Logger;
  /** This node's current state, read at every heartbeat and for its own line in list(). */
  content(): HeartbeatContent;
  /** A local monotonic clock, only to space out log lines; liveness never uses a node's clock. */
  now?: () => number;
  /** Where heartbeats live; default: the members hash in `redis`, through Lua scripts. */
  store?: MemberStore;
}

/** `unknown`: no such member; `live`: it is UP (it would rejoin at its next heartbeat), so it stays. */
export type RemoveResult = 'removed' | 'unknown' | 'live';

/** Rejected heartbeats and a foreign secret marker are logged at most this often. */
const WARN_EVERY_MS = 10_000;
/** Forgotten members are swept every this many heartbeats, even when no admin call reads the membership. */
const SWEEP_EVERY_BEATS = 10;

interface View {
  redisNowMs: number;
  clusterSeq: number;
  members: Judged[];
  rejects: Decoded[];
  raw: Map<string, string>;
}

/**
 * Membership by signed heartbeats in one Redis hash, judged by Redis's clock only: UP while the
 * last heartbeat is younger than 3 heartbeats + 500 ms, DOWN after, reported DOWN until it leaves,
 * is removed or the forget time passes (docs/architecture.md, Membership). Owns the heartbeat
 * timer; the node only starts and stops it.
 */
export class Membership {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private joined = false;
  private beats = 0;
  private readonly now: () => number;
  private readonly rules: LivenessRules;
  private readonly codec: HeartbeatCodec;
  private readonly marker: string;
  private readonly scripts: MemberStore;
  private secretOk = true;
  private rejected = 0;
  /** the last rejected value seen per hash field, so that one bad heartbeat is counted once */
  private readonly seenBad = new Map<string, string>();
  private readonly lastWarn = { rejects: -Infinity, marker: -Infinity };
  private readonly forgetting = new Set<string>();
  /** The first heartbeat after start is a join (a new members version); false again after the leave. */
  private announced = false;
  /** Each entry as last decoded: a heartbeat unchanged since is not verified and parsed again. */
  private readonly decoded = new Map<string, { value: string; d: Decoded }>();
  /**
   * The last members read and its members version ('' when the store keeps none): reused by
   * expected() while neither aged nor changed, and its fallback when the store cannot be read.
   */
  private lastRead: { members: Judged[]; version: string; at: number } | undefined;
  /** Members last seen UP, and when (local time): who is still waited for should Redis lose the hash (liveness.ts, vanished). */
  private readonly lastUp = new Map<string, number>();

  constructor(private readonly o: MembershipOptions) {
    this.now = o.now ?? (() => performance.now());
    this.rules = rulesFor(o.config.heartbeatMs, o.config.memberForgetMs);
    this.codec = new HeartbeatCodec(o.config.clusterSecret);
    this.marker = secretMarker(o.config.clusterSecret);
    this.scripts = o.store ?? new MembershipScripts(o.redis, { members: o.names.members, seq: o.names.seq, marker: o.names.secretMarker }, downAfterMs(o.config.heartbeatMs));
  }

  /**
   * True when no other process heartbeats now (ages by Redis's clock): this node starts a fresh
   * cluster. A fresh heartbeat with a bad signature also means "not alone" (see othersPresent).
   */
  async isAlone(): Promise<boolean> {
    const v = await this.view();
    return !othersPresent(this.o.config.nodeId, v.members, v.rejects, v.redisNowMs, this.rules);
  }

  /**
   * Whether this node's cluster secret is the one the cluster runs with: the first node sets a
   * marker derived from its secret (never the secret itself); a node with another secret finds a
   * different marker and must not become healthy.
   */
  async verifySecret(): Promise<boolean> {
    const stored = await this.scripts.marker(this.marker);
    this.secretOk = typeof stored === 'string' && sameText(stored, this.marker);
    return this.secretOk;
  }

  /** The outcome of the last secret check (verifySecret, then every heartbeat). */
  secretMatches(): boolean {
    return this.secretOk;
  }

  /** Heartbeats of other processes rejected so far (unsigned, garbled or signed with another secret). */
  rejectedHeartbeats(): number {
    return this.rejected;
  }

  /** Writes the first heartbeat, then one every heartbeat interval. Never throws for a failed write. */
  async start(): Promise<void> {
    this.stopped = false;
    this.joined = true;
    this.announced = false;
    this.tick();
    await this.inFlight;
    this.timer = setInterval(() => this.tick(), this.o.config.heartbeatMs);
    this.timer.unref();
  }

  /** A clean shutdown says so at once, instead of waiting for the heartbeat to go stale. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    // A heartbeat still on its way must not land after the leave and undo it.
    await this.inFlight;
    // A node that never joined (e.g. refused for its secret) has nothing to leave, and must not overwrite an entry.
    if (!this.joined) return;
    this.joined = false;
    this.announced = false;
    await this.scripts.beat(this.o.config.nodeId, this.codec.sign({ ...this.heartbeat(), left: true }), this.marker, 'leave');
  }

  /** Every member not yet forgotten, sorted by id; DOWN ones (silent or departed) included. */
  async list(): Promise<Member[]> {
    const v = await this.view();
    return v.members.filter((m) => !m.forget).map((m) => this.describe(m, v));
  }

  /**
   * The members an update published now must hear from, and the silent ones it reports as down.
   * Read per update, but the whole hash only when the members version changed (a join, leave, return
   * or removal) or the last read is a heartbeat old. `known` is the members version the publish read
   * in its own atomic step (bus/publish-script.ts); without it one GET confirms the last read still
   * stands (docs/architecture.md, Membership). When the store cannot be read (a reconnect, a
   * failover), the last read stands in, however old: without it the update would be answered as
   * acknowledged by this node alone, `total: 1`.
   */
  async expected(known?: string): Promise<ExpectedMembers> {
    const s = this.lastRead;
    try {
      if (s && s.version !== '' && (known !== undefined || this.scripts.version) && this.now() - s.at < this.o.config.heartbeatMs) {
        const version = known ?? (await this.scripts.version!());
        if (version === s.version) return expectedOf(s.members, this.now() - s.at);
      }
      const v = await this.view();
      const e = expectedOf(v.members);
      const lost = vanished(this.lastUp, new Set(v.raw.keys()), this.now(), this.rules);
      if (lost.length === 0) return e;
      this.o.log.warn({ members: lost }, 'members UP a moment ago are missing from redis (it lost its state?): still waiting for them');
      return { ...e, live: [...e.live, ...lost].sort() };
    } catch (err) {
      if (!s) throw err;
      this.o.log.debug({ err: (err as Error).message, read_ms_ago: this.now() - s.at }, 'members not readable: waiting for the members of the last read');
      return expectedOf(s.members, this.now() - s.at);
    }
  }

  /** Operator removal of a member that is DOWN (silent or departed), as nodetool removenode. */
  async remove(id: string, attempts = 3): Promise<RemoveResult> {
    const v = await this.view();
    const m = v.members.find((x) => x.id === id && !x.forget);
    if (!m) return 'unknown';
    if (m.state === 'up') return 'live';
    if (await this.scripts.deleteIf(id, v.raw.get(id)!)) {
      this.o.log.info({ member: id, last_seen_ms: m.ageMs }, 'member removed by an operator');
      return 'removed';
    }
    // It wrote a heartbeat meanwhile: judge it again.
    return attempts > 1 ? this.remove(id, attempts - 1) : 'live';
  }

  private heartbeat(): Heartbeat {
    return { ...this.o.content(), id: this.o.config.nodeId };
  }

  /** One heartbeat at a time: while Redis stalls, beats are skipped rather than queued. */
  private tick(): void {
    if (this.inFlight || this.stopped) return;
    this.inFlight = this.beat().finally(() => (this.inFlight = undefined));
  }

  private async beat(): Promise<void> {
    try {
      const ok = await this.scripts.beat(this.o.config.nodeId, this.codec.sign(this.heartbeat()), this.marker, this.announced ? undefined : 'join');
      this.announced = true;
      this.secretOk = ok;
      if (!ok && this.due('marker')) {
        this.o.log.warn('the cluster secret marker in Redis is not this node\'s: AUTHCACHE_CLUSTER_SECRET differs from the cluster\'s');
      }
      if (++this.beats % SWEEP_EVERY_BEATS === 0) await this.view();
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'heartbeat not written');
    }
  }

  /** The members hash and Redis's TIME in one round trip, each entry checked and judged. */
  private async view(): Promise<View> {
    // Taken before the read is sent: a reused read's age errs on the old side.
    const at = this.now();
    const snap = await this.scripts.read();
    const members: Judged[] = [];
    const rejects: Decoded[] = [];
    for (const id of this.decoded.keys()) if (!snap.raw.has(id)) this.decoded.delete(id);
    for (const [id, value] of snap.raw) {
      const hit = this.decoded.get(id);
      const d = hit?.value === value ? hit.d : this.codec.decode(id, value);
      if (hit?.value !== value) this.decoded.set(id, { value, d });
      if (d.ok) {
        const j = judge(d, snap.redisNowMs, this.rules);
        members.push(j);
        if (j.forget) this.forget(id, value, j.ageMs);
      } else {
        rejects.push(d);
        if (this.seenBad.get(id) !== value) {
          this.seenBad.set(id, value);
          this.rejected++;
        }
        if (rejectForgettable(d, snap.redisNowMs, this.rules)) this.forget(id, value, snap.redisNowMs - d.stampMs!);
      }
    }
    for (const id of this.seenBad.keys()) if (rejects.every((r) => r.id !== id)) this.seenBad.delete(id);
    if (rejects.length > 0 && this.due('rejects')) {
      this.o.log.warn(
        { rejected: rejects.map((r) => ({ member: r.id, reason: r.ok ? undefined : r.reason })), total: this.rejected },
        'ignoring heartbeats that are not signed with this cluster\'s secret',
      );
    }
    members.sort((a, b) => a.id.localeCompare(b.id));
    this.lastRead = { members, version: snap.version ?? '', at };
    noteUp(this.lastUp, members, at, this.rules);
    return { redisNowMs: snap.redisNowMs, clusterSeq: snap.clusterSeq, members, rejects, raw: snap.raw };
  }

  private describe(m: Judged, v: View): Member {
    const live = m.id === this.o.config.nodeId ? this.liveContent() : undefined;
    const src = live ?? m.hb;
    const against = live || m.state !== 'up' ? v.clusterSeq : m.seqAtBeat;
    return {
      id: m.id,
      address: src.address,
      status: m.state === 'up' ? 'UP' : 'DOWN',
      applied_seq: src.applied_seq,
      lag: Math.max(0, against - src.applied_seq),
      cluster_seq: against,
      last_seen: new Date(m.stampMs).toISOString(),
      heartbeat_age_ms: m.ageMs,
      // A heartbeat names the caches its node had; the JSON was checked for shape, not for cache names.
      cache: (src.cache ?? {}) as Member['cache'],
      ...(m.state === 'left' ? { left: true as const } : {}),
      ...(live ? { self: true as const } : {}),
    };
  }

  private liveContent(): HeartbeatContent | undefined {
    try {
      return this.o.content();
    } catch {
      return undefined;
    }
  }

  /** Deletes a forgotten entry unless it changed since it was judged; a failure is retried at the next read. */
  private forget(id: string, value: string, ageMs: number): void {
    if (this.forgetting.has(id)) return;
    this.forgetting.add(id);
    this.scripts
      .deleteIf(id, value)
      .then((gone) => gone && this.o.log.info({ member: id, last_seen_ms: ageMs }, 'member forgotten: no heartbeat for AUTHCACHE_MEMBER_FORGET_MS'))
      .catch((err: Error) => this.o.log.debug({ member: id, err: err.message }, 'forgotten member not deleted yet'))
      .finally(() => this.forgetting.delete(id));
  }

  private due(what: 'rejects' | 'marker'): boolean {
    const t = this.now();
    if (t - this.lastWarn[what] < WARN_EVERY_MS) return false;
    this.lastWarn[what] = t;
    return true;
  }
}
