import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ClusterNames } from '@authcache/protocol';
import type { CacheStats } from './cache/bounded-cache';
import type { Config } from './config';

/** What a node says about itself on every heartbeat (the membership adds when it was seen). */
export interface HeartbeatContent {
  address: string;
  applied_seq: number;
  started: number;
  cache: Record<string, CacheStats>;
}

/** What a node writes about itself on every heartbeat. */
export interface Heartbeat extends HeartbeatContent {
  id: string;
  ts: number;
  left?: boolean;
}

export interface Member {
  id: string;
  address: string;
  status: 'UP' | 'DOWN';
  applied_seq: number;
  lag: number;
  last_seen: string;
  cache: Record<string, CacheStats>;
}

/** Who must acknowledge an update: the live members, and those that went silent without leaving. */
export interface ExpectedMembers {
  live: string[];
  down: Array<{ node: string; last_seen_ms: number }>;
}

export interface MembershipOptions {
  redis: Redis;
  names: ClusterNames;
  /** nodeId, heartbeatMs, clusterSecret and the membership settings. */
  config: Config;
  log: Logger;
  /** This node's current state, read at every heartbeat. */
  content(): HeartbeatContent;
  now?: () => number;
}

/**
 * Membership by heartbeats in one Redis hash: UP while the heartbeat is fresh, DOWN after.
 * Owns the heartbeat timer; the node only starts and stops it.
 */
export class Membership {
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly downAfterMs: number;

  constructor(private readonly o: MembershipOptions) {
    this.now = o.now ?? Date.now;
    this.downAfterMs = 3 * o.config.heartbeatMs + 500;
  }

  /** True when no other member is live: this node starts a fresh cluster. */
  async isAlone(): Promise<boolean> {
    const live = (await this.expected()).live;
    return live.every((id) => id === this.o.config.nodeId);
  }

  /**
   * Whether this node's cluster secret is the one the cluster runs with (a signed marker in
   * Redis). A node with another secret must not become healthy.
   */
  async verifySecret(): Promise<boolean> {
    return true;
  }

  /** Writes the first heartbeat, then one every heartbeat interval. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.o.config.heartbeatMs);
    this.timer.unref();
  }

  /** A clean shutdown says so at once, instead of waiting for the heartbeat to go stale. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.o.redis.hset(this.o.names.members, this.o.config.nodeId, JSON.stringify({ ...this.heartbeat(), left: true }));
  }

  async list(): Promise<Member[]> {
    const [[, raw], [, seqRaw]] = ((await this.o.redis.multi().hgetall(this.o.names.members).get(this.o.names.seq).exec()) ?? []) as [
      [unknown, Record<string, string>],
      [unknown, string | null],
    ];
    const clusterSeq = Number(seqRaw ?? 0);
    const now = this.now();
    return this.heartbeats(raw ?? {})
      .map(([id, hb]) => ({
        id,
        address: hb.address,
        status: this.isUp(hb, now) ? ('UP' as const) : ('DOWN' as const),
        applied_seq: hb.applied_seq,
        lag: Math.max(0, clusterSeq - hb.applied_seq),
        last_seen: new Date(hb.ts).toISOString(),
        cache: hb.cache ?? {},
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The members an update published now must hear from. */
  async expected(): Promise<ExpectedMembers> {
    const raw = await this.o.redis.hgetall(this.o.names.members);
    const now = this.now();
    const live = this.heartbeats(raw)
      .filter(([, hb]) => this.isUp(hb, now))
      .map(([id]) => id);
    return { live, down: [] };
  }

  private heartbeat(): Heartbeat {
    return { ...this.o.content(), id: this.o.config.nodeId, ts: this.now() };
  }

  private async beat(): Promise<void> {
    try {
      await this.o.redis.hset(this.o.names.members, this.o.config.nodeId, JSON.stringify(this.heartbeat()));
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'heartbeat not written');
    }
  }

  private isUp(hb: Heartbeat, now: number): boolean {
    return !hb.left && now - hb.ts < this.downAfterMs;
  }

  /** The readable heartbeats of a raw members hash; an unreadable one is no member at all. */
  private heartbeats(raw: Record<string, string>): Array<[string, Heartbeat]> {
    const out: Array<[string, Heartbeat]> = [];
    for (const [id, json] of Object.entries(raw)) {
      try {
        out.push([id, JSON.parse(json) as Heartbeat]);
      } catch {
        // skipped
      }
    }
    return out;
  }
}
