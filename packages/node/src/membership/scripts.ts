/**
 * The membership's Redis side: each operation is one script, so a heartbeat is stamped with Redis's
 * TIME as it is stored, and the members are read in the same instant as the TIME they are judged by
 * (docs/architecture.md, Membership).
 */

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { STORED_PREFIX } from './heartbeat-codec';
import { redisTimeMs } from './liveness';

// Scripts that write after TIME need effects replication; Redis >= 5 does it by default, older ones on request.
const REPLICATE = `if redis.replicate_commands then redis.replicate_commands() end`;
const NOW_MS = `local t = redis.call('TIME')
local ms = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))`;

/**
 * KEYS: members, seq, secret marker, members version. ARGV: node id, `<hmac>|<json>`, this node's
 * marker, event ('join', 'leave' or ''), a fresh version token, the DOWN age in ms.
 * Stores `ac1|<redis ms>|<seq>|<hmac>|<json>`, sets the marker if Redis lost it (NX), and answers 1
 * when the marker in Redis is this node's, 0 when another secret owns the cluster. A join, a leave,
 * or a beat over no entry or a DOWN one (a member coming back) sets a new members version: who must
 * acknowledge an update may have changed (membership.ts caches the members between such changes).
 */
const BEAT = `${REPLICATE}
${NOW_MS}
local seq = redis.call('GET', KEYS[2]) or '0'
local old = redis.call('HGET', KEYS[1], ARGV[1])
local stamp = old and tonumber(string.match(old, '^${STORED_PREFIX}|(%d+)|'))
if ARGV[4] ~= '' or not stamp or tonumber(ms) - stamp >= tonumber(ARGV[6]) then redis.call('SET', KEYS[4], ARGV[5]) end
redis.call('HSET', KEYS[1], ARGV[1], '${STORED_PREFIX}|' .. ms .. '|' .. seq .. '|' .. ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'NX')
if redis.call('GET', KEYS[3]) == ARGV[3] then return 1 end
return 0`;

/** KEYS: members, seq, members version. Answers {seconds, microseconds, flat hash, seq, version or ''}. */
const READ = `local t = redis.call('TIME')
return {t[1], t[2], redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[3]) or ''}`;

/**
 * KEYS: members, members version. ARGV: id, value, a fresh version token. Deletes the entry only if
 * it is still the one judged (no race with a revived member); a deletion sets a new members version.
 */
const DELETE_IF = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('SET', KEYS[2], ARGV[3])
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/** KEYS: marker. ARGV: marker. The first node of a cluster sets it; every node reads what is there. */
const MARKER = `redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`;

interface ScriptedRedis {
  authcacheMemberBeat(members: string, seq: string, marker: string, version: string, id: string, signed: string, mine: string, event: string, token: string, downMs: number): Promise<number>;
  authcacheMemberRead(members: string, seq: string, version: string): Promise<[string, string, string[], string, string]>;
  authcacheMemberDeleteIf(members: string, version: string, id: string, value: string, token: string): Promise<number>;
  authcacheSecretMarker(marker: string, mine: string): Promise<string | null>;
  get(key: string): Promise<string | null>;
}

/** A beat that changes who must acknowledge updates: the first after start, and the clean leave. */
export type BeatEvent = 'join' | 'leave';

export interface MembersSnapshot {
  redisNowMs: number;
  raw: Map<string, string>;
  clusterSeq: number;
  /** The members version read with the entries ('' when none was ever set); undefined: the store has none. */
  version?: string;
}

export interface MemberKeys {
  members: string;
  seq: string;
  marker: string;
}

/** The members version lives beside the members hash: same prefix, so the same hash tag (one slot). */
export function versionKey(members: string): string {
  return `${members}:version`;
}

/**
 * What the membership needs from its store: the seam where another transport (Sentinel, Redis
 * Cluster) plugs in (docs/architecture.md, "Adding a transport"). Every time in it is the store's own.
 */
export interface MemberStore {
  /**
   * Stores a signed heartbeat stamped with the store's time; true when the cluster's secret marker is
   * `mine`. A join, a leave, or a beat over no entry or a DOWN one sets a new members version.
   */
  beat(id: string, signed: string, mine: string, event?: BeatEvent): Promise<boolean>;
  /** All entries, the store's time and the cluster seq, read at one instant. */
  read(): Promise<MembersSnapshot>;
  /** Deletes `id` only if its entry is still `value`. */
  deleteIf(id: string, value: string): Promise<boolean>;
  /** Sets the secret marker if there is none; the marker held afterwards. */
  marker(mine: string): Promise<string | null>;
  /**
   * The members version alone (one GET): unchanged since a read, the members read then are still
   * who must acknowledge (docs/architecture.md, Membership). A store without it is read every time.
   */
  version?(): Promise<string>;
}

/**
 * BEAT reads and writes members, seq and the marker in one script: on a Redis Cluster all three
 * must share a slot. The members key carries the cluster's hash tag (`{cluster}:members`,
 * names.ts); a marker named without it (`cluster:secret-marker`) is moved under the same tag
 * (docs/architecture.md, "Redis topologies"). Without a hash tag nothing changes.
 */
export function sameSlot(marker: string, members: string): string {
  const tag = /^\{([^}]+)\}:/.exec(members);
  if (!tag || marker.startsWith(`{${tag[1]}}`)) return marker;
  const plain = `${tag[1]}:`;
  return `{${tag[1]}}:${marker.startsWith(plain) ? marker.slice(plain.length) : marker}`;
}

/** The Redis store: typed calls of the scripts on one connection (EVALSHA, EVAL on a Redis that lost its script cache). */
export class MembershipScripts implements MemberStore {
  private readonly r: ScriptedRedis;

  private readonly keys: MemberKeys & { version: string };

  /** `downAfterMs`: a beat over an entry this old is a member coming back (a new members version). */
  constructor(redis: Redis, keys: MemberKeys, private readonly downAfterMs: number) {
    this.keys = { ...keys, marker: sameSlot(keys.marker, keys.members), version: versionKey(keys.members) };
    redis.defineCommand('authcacheMemberBeat', { numberOfKeys: 4, lua: BEAT });
    redis.defineCommand('authcacheMemberRead', { numberOfKeys: 3, lua: READ });
    redis.defineCommand('authcacheMemberDeleteIf', { numberOfKeys: 2, lua: DELETE_IF });
    redis.defineCommand('authcacheSecretMarker', { numberOfKeys: 1, lua: MARKER });
    this.r = redis as unknown as ScriptedRedis;
  }

  async beat(id: string, signed: string, mine: string, event?: BeatEvent): Promise<boolean> {
    const k = this.keys;
    return (await this.r.authcacheMemberBeat(k.members, k.seq, k.marker, k.version, id, signed, mine, event ?? '', randomUUID(), this.downAfterMs)) === 1;
  }

  async read(): Promise<MembersSnapshot> {
    const [sec, usec, flat, seq, version] = await this.r.authcacheMemberRead(this.keys.members, this.keys.seq, this.keys.version);
    const raw = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) raw.set(String(flat[i]), String(flat[i + 1]));
    return { redisNowMs: redisTimeMs([sec, usec]), raw, clusterSeq: Number(seq) || 0, version: String(version ?? '') };
  }

  async version(): Promise<string> {
    return (await this.r.get(this.keys.version)) ?? '';
  }

  async deleteIf(id: string, value: string): Promise<boolean> {
    return (await this.r.authcacheMemberDeleteIf(this.keys.members, this.keys.version, id, value, randomUUID())) === 1;
  }

  marker(mine: string): Promise<string | null> {
    return this.r.authcacheSecretMarker(this.keys.marker, mine);
  }
}
