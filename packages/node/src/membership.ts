import type { Redis } from 'ioredis';
import type { ClusterNames } from '@authcache/protocol';
import type { CacheStats } from './cache/bounded-cache';

/** What a node writes about itself on every heartbeat. */
export interface Heartbeat {
  id: string;
  address: string;
  applied_seq: number;
  ts: number;
  started: number;
  left?: boolean;
  cache: Record<string, CacheStats>;
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

/** Membership by heartbeats in one Redis hash: UP while the heartbeat is fresh, DOWN after. */
export class Membership {
  constructor(
    private readonly redis: Redis,
    private readonly names: ClusterNames,
    private readonly downAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async beat(hb: Heartbeat): Promise<void> {
    await this.redis.hset(this.names.members, hb.id, JSON.stringify(hb));
  }

  /** A clean shutdown says so at once, instead of waiting for the heartbeat to go stale. */
  async leave(hb: Heartbeat): Promise<void> {
    await this.redis.hset(this.names.members, hb.id, JSON.stringify({ ...hb, left: true, ts: this.now() }));
  }

  async list(): Promise<Member[]> {
    const [[, raw], [, seqRaw]] = ((await this.redis.multi().hgetall(this.names.members).get(this.names.seq).exec()) ?? []) as [
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

  async liveIds(): Promise<string[]> {
    return this.liveIdsFrom(await this.redis.hgetall(this.names.members));
  }

  /** UP members in a raw read of the members hash (the bus reads it in the same round trip as its publish). */
  liveIdsFrom(raw: Record<string, string>): string[] {
    const now = this.now();
    return this.heartbeats(raw)
      .filter(([, hb]) => this.isUp(hb, now))
      .map(([id]) => id);
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
