import type { Logger } from 'pino';
import type { AuditEntry } from './audit/audit-entry';

/**
 * The live events of `GET /v1/events` (docs/architecture.md, "Audit and events"): `member` (joined, up, down, left, removed),
 * `stats` (a member's cache numbers changed), `applied` (`{seq, node, lag}`), `sync` (this node
 * degraded / in sync, Redis connected or not) and `audit` (each new audit entry, cluster-wide).
 *
 * The hub only observes the node's public surface — health(), the applied seq, the membership
 * list and the audit stream — on a short interval and emits what changed. It is deliberately not
 * wired into the bus or the membership internals: those change often, this stays correct as long
 * as their public answers do. The interval runs only while at least one client listens.
 */

export type EventName = 'hello' | 'member' | 'stats' | 'applied' | 'sync' | 'audit';

export interface HubEvent {
  event: EventName;
  data: Record<string, unknown>;
}

export type Listener = (e: HubEvent) => void;

/** A member as `GET /v1/cluster/nodes` shows it (only the fields the hub compares are named). */
export interface MemberLine {
  id: string;
  status: string;
  address?: string;
  applied_seq: number;
  lag: number;
  cache?: unknown;
  left?: boolean;
}

export interface HubSource {
  nodeId: string;
  health(): { status: string; redis: string; sync_age_ms: number | null };
  appliedSeq(): number;
  members(): Promise<MemberLine[]>;
  auditLatestId(): Promise<string>;
  auditAfter(id: string): Promise<AuditEntry[]>;
}

export interface HubOptions {
  /** how often the public surface is read while someone listens (default 250 ms) */
  intervalMs?: number;
  /** listeners at most; more are refused (default 32) */
  maxClients?: number;
  log: Logger;
}

const memberChange = (prev: MemberLine | undefined, next: MemberLine): string | undefined => {
  if (!prev) return 'joined';
  if (prev.status === next.status && Boolean(prev.left) === Boolean(next.left)) return undefined;
  if (next.left) return 'left';
  return next.status === 'UP' ? 'up' : 'down';
};

/** The member line an event carries: the whole line, named by `node` as the other events are. */
const memberData = (m: MemberLine, change: string): Record<string, unknown> => ({ change, ...m, node: m.id });

/**
 * The events between two views of the membership (pure: unit-tested on its own). `applied` is not
 * decided here: the hub keeps one applied view for members and for itself.
 */
export function diffMembers(prev: ReadonlyMap<string, MemberLine>, next: readonly MemberLine[]): HubEvent[] {
  const out: HubEvent[] = [];
  const seen = new Set<string>();
  for (const m of next) {
    seen.add(m.id);
    const before = prev.get(m.id);
    const change = memberChange(before, m);
    if (change) out.push({ event: 'member', data: memberData(m, change) });
    else if (before && (before.address !== m.address || JSON.stringify(before.cache) !== JSON.stringify(m.cache))) {
      out.push({ event: 'stats', data: memberData(m, 'stats') });
    }
  }
  for (const [id, m] of prev) if (!seen.has(id)) out.push({ event: 'member', data: { change: 'removed', node: id, id, status: 'REMOVED', address: m.address ?? '' } });
  return out;
}

export class EventHub {
  private readonly listeners = new Set<Listener>();
  private readonly intervalMs: number;
  readonly maxClients: number;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private members = new Map<string, MemberLine>();
  private readonly applied = new Map<string, { seq: number; lag: number | null }>();
  private sync: { status: string; redis: string } | undefined;
  private auditCursor: string | undefined;
  /** true once a tick completed since the hub (re)started: the snapshot is then current */
  private warm = false;
  private lastError = -Infinity;

  constructor(private readonly source: HubSource, private readonly o: HubOptions) {
    this.intervalMs = o.intervalMs ?? 250;
    this.maxClients = o.maxClients ?? 32;
  }

  get clients(): number {
    return this.listeners.size;
  }

  full(): boolean {
    return this.listeners.size >= this.maxClients;
  }

  /**
   * Makes the state current (one read of the surface when the hub was idle), so that a new
   * client's snapshot is not empty. Call, then snapshot() and subscribe() in the same turn.
   */
  async ready(): Promise<void> {
    if (!this.warm) await this.tick();
  }

  /** The current state as events, for a client that just connected: every member, this node's sync and applied seq. */
  snapshot(): HubEvent[] {
    const out: HubEvent[] = [];
    for (const m of this.members.values()) out.push({ event: 'member', data: memberData(m, 'current') });
    for (const [node, a] of this.applied) out.push({ event: 'applied', data: { seq: a.seq, node, lag: a.lag } });
    if (this.sync) out.push({ event: 'sync', data: this.syncData(this.sync) });
    return out;
  }

  /** Adds a listener; undefined when the hub is full. The returned function removes it. */
  subscribe(l: Listener): (() => void) | undefined {
    if (this.full()) return undefined;
    this.listeners.add(l);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(l);
      if (this.listeners.size === 0) this.idle();
    };
  }

  /** Every listener is dropped and the interval stops (server shutdown). */
  stop(): void {
    this.listeners.clear();
    this.idle();
  }

  /** One read of the surface; concurrent calls share it, so ticks never pile up behind a slow Redis. */
  tick(): Promise<void> {
    this.ticking ??= this.read().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private idle(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    // Idle state goes stale: the next client starts from a fresh read, and from the audit's end.
    this.warm = false;
    this.members = new Map();
    this.applied.clear();
    this.sync = undefined;
    this.auditCursor = undefined;
  }

  private async read(): Promise<void> {
    const s = this.source;
    const h = s.health();
    const sync = { status: h.status, redis: h.redis };
    if (!this.sync || this.sync.status !== sync.status || this.sync.redis !== sync.redis) {
      this.sync = sync;
      this.emit({ event: 'sync', data: this.syncData(sync, h.sync_age_ms) });
    }
    const [members, audit] = await Promise.all([this.attempt(() => s.members()), this.attempt(() => this.readAudit())]);
    if (members) {
      for (const e of diffMembers(this.members, members)) this.emit(e);
      this.members = new Map(members.map((m) => [m.id, m]));
      const ids = new Set(members.map((m) => m.id));
      for (const id of this.applied.keys()) if (!ids.has(id)) this.applied.delete(id);
      for (const m of members) if (m.id !== s.nodeId) this.noteApplied(m.id, m.applied_seq, m.lag);
    }
    // This node's own seq is read live, even while the membership is unreadable.
    const own = members?.find((m) => m.id === s.nodeId);
    this.noteApplied(s.nodeId, s.appliedSeq(), own ? own.lag : (this.applied.get(s.nodeId)?.lag ?? null));
    for (const e of audit ?? []) this.emit({ event: 'audit', data: e as unknown as Record<string, unknown> });
    this.warm = true;
  }

  private async readAudit(): Promise<AuditEntry[]> {
    if (this.auditCursor === undefined) {
      // A new stream of events starts at the end of the trail: history is GET /v1/audit's job.
      this.auditCursor = await this.source.auditLatestId();
      return [];
    }
    const entries = await this.source.auditAfter(this.auditCursor);
    const last = entries[entries.length - 1];
    if (last?.id) this.auditCursor = last.id;
    return entries;
  }

  private noteApplied(node: string, seq: number, lag: number | null): void {
    const prev = this.applied.get(node);
    if (prev && prev.seq === seq && prev.lag === lag) return;
    this.applied.set(node, { seq, lag });
    this.emit({ event: 'applied', data: { seq, node, lag } });
  }

  private syncData(sync: { status: string; redis: string }, syncAgeMs?: number | null): Record<string, unknown> {
    return { node: this.source.nodeId, status: sync.status, in_sync: sync.status === 'UP', redis: sync.redis, ...(syncAgeMs !== undefined ? { sync_age_ms: syncAgeMs } : {}) };
  }

  private async attempt<T>(f: () => Promise<T>): Promise<T | undefined> {
    try {
      return await f();
    } catch (err) {
      // Redis away: the sync event already says so; one debug line per 10 s is enough here.
      const now = performance.now();
      if (now - this.lastError > 10_000) {
        this.lastError = now;
        this.o.log.debug({ err: (err as Error).message }, 'event hub: surface not readable');
      }
      return undefined;
    }
  }

  private emit(e: HubEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'event listener failed');
      }
    }
  }
}
