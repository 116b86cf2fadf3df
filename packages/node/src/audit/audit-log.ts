import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditMetrics } from './metrics';
import type { AuditEntry } from './audit-entry';
import type { AuditQuery, AuditSettings } from './audit-query';

/**
 * The audit trail's store: one Redis stream per cluster (`<cluster>:audit`), shared by every node,
 * so the trail is cluster-wide while each call is written once, by the node that answered it.
 *
 * Bounded twice, in the same script as the write so no entry lands untrimmed: MAXLEN (exact, the
 * rate of admin calls is low) and MINID = Redis's TIME − max age. Entry ids are Redis's clock, so
 * `since` and the age limit use one clock whichever node wrote the entry.
 *
 * A write never fails the admin call that caused it: a Redis error is logged and counted, and the
 * entry waits in a small buffer that is retried (the pino line written at the call is the record
 * of last resort when even that overflows).
 *
 * Appends are batched: the first entry after a quiet spell goes at once, and what follows within
 * BATCH_MS of an append goes in the next one, as one script call. A burst of admin calls (a
 * runbook, a flush loop) then costs Redis and the node one append per window instead of one per
 * call, which on a busy machine was a third of a flush's round trip (docs/architecture.md,
 * "Audit and events").
 */

// KEYS: stream. ARGV: max length, max age ms, then one entry JSON per entry, oldest first.
// Answers the new entries' ids, in that order.
const APPEND = `if redis.replicate_commands then redis.replicate_commands() end
local ids = {}
for i = 3, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'e', ARGV[i])
end
local t = redis.call('TIME')
local minid = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[2]))
redis.call('XTRIM', KEYS[1], 'MINID', minid)
return ids`;

/** Entries waiting for Redis at most; beyond that the oldest are dropped (and counted). */
export const PENDING_MAX = 1000;
/** An entry waits at most this long for the append that carries it (after a quiet spell it waits not at all). */
export const BATCH_MS = 20;
/** Entries in one append at most: bounds the script's run (Redis is single-threaded) and its arguments. */
export const BATCH_MAX = 100;
const RETRY_MS = 2000;

export interface AuditLogOptions {
  /** With defineCommand (a real ioredis connection) the append goes by EVALSHA; a bare `eval` (test fakes) sends the script each time. */
  redis: Pick<Redis, 'eval' | 'xrevrange' | 'xrange'> & Partial<Pick<Redis, 'defineCommand'>>;
  key: string;
  settings: AuditSettings;
  log: Logger;
  metrics: AuditMetrics;
}

type StreamEntry = [id: string, fields: string[]];
type Append = (key: string, maxLen: string, maxAgeMs: string, ...json: string[]) => Promise<unknown>;

export class AuditLog {
  private readonly pending: AuditEntry[] = [];
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  /** When the last append was sent (performance.now()); the next waits until BATCH_MS after it. */
  private lastAppendAt = -Infinity;
  private stopped = false;
  private lastErrorLog = -Infinity;
  private readonly append: Append;

  constructor(private readonly o: AuditLogOptions) {
    // By EVALSHA (ioredis sends the script only after a NOSCRIPT), not the whole script text with
    // every append (docs/architecture.md, "Audit and events").
    if (typeof o.redis.defineCommand === 'function') {
      o.redis.defineCommand('authcacheAuditAppend', { numberOfKeys: 1, lua: APPEND });
      const scripted = o.redis as unknown as { authcacheAuditAppend: Append };
      this.append = (...a) => scripted.authcacheAuditAppend(...a);
    } else {
      this.append = (key, maxLen, maxAgeMs, ...json) => o.redis.eval(APPEND, 1, key, maxLen, maxAgeMs, ...json);
    }
  }

  /**
   * Records one answered admin call: its pino line now, the stream entry asynchronously (within
   * BATCH_MS). Never throws and never waits: the caller has already answered.
   */
  record(entry: AuditEntry): void {
    const refused = entry.status >= 400;
    this.o.log[refused ? 'warn' : 'info']({ audit: entry }, refused ? 'admin call refused or failed' : 'admin call');
    if (this.stopped) return;
    if (this.pending.length >= PENDING_MAX) {
      this.pending.shift();
      this.o.metrics.dropped.inc();
    }
    this.pending.push(entry);
    this.schedule();
  }

  /** Resolves when every entry recorded so far was written or failed once (tests, shutdown): a batch still waiting goes now. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.batchTimer) {
        clearTimeout(this.batchTimer);
        this.batchTimer = undefined;
        this.drain();
      }
      if (!this.draining) return;
      await this.draining;
    }
  }

  /** Entries newest first, at or after `sinceMs` (Redis's clock), at most `limit`. */
  async list(q: AuditQuery): Promise<AuditEntry[]> {
    const start = q.sinceMs === undefined ? '-' : String(Math.floor(q.sinceMs));
    const rows = (await this.o.redis.xrevrange(this.o.key, '+', start, 'COUNT', q.limit)) as StreamEntry[];
    return this.decode(rows);
  }

  /** Entries written after `id`, oldest first (the event hub follows the stream with this). */
  async after(id: string, count = 100): Promise<AuditEntry[]> {
    const rows = (await this.o.redis.xrange(this.o.key, nextId(id), '+', 'COUNT', count)) as StreamEntry[];
    return this.decode(rows);
  }

  /** The id of the newest entry, `0-0` when the stream is empty. */
  async latestId(): Promise<string> {
    const rows = (await this.o.redis.xrevrange(this.o.key, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return rows[0]?.[0] ?? '0-0';
  }

  /** Stops retrying; entries still pending are given one last try. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.settled();
  }

  /** An append now if the last one is BATCH_MS old, else one when it will be; one at a time. */
  private schedule(): void {
    if (this.draining || this.batchTimer || this.pending.length === 0) return;
    const wait = this.lastAppendAt + BATCH_MS - performance.now();
    if (wait <= 0) return this.drain();
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      this.drain();
    }, wait);
    this.batchTimer.unref();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = this.writeBatch().finally(() => {
      this.draining = undefined;
      // Entries that came while it was in flight: the next window's append.
      if (!this.retryTimer) this.schedule();
    });
  }

  private async writeBatch(): Promise<void> {
    const batch = this.pending.slice(0, BATCH_MAX);
    if (batch.length === 0) return;
    this.lastAppendAt = performance.now();
    try {
      await this.append(this.o.key, String(this.o.settings.maxLen), String(this.o.settings.maxAgeMs), ...batch.map((e) => JSON.stringify(e)));
    } catch (err) {
      this.o.metrics.writeErrors.inc();
      this.logError(err as Error);
      this.scheduleRetry();
      return;
    }
    // Entries dropped meanwhile (the buffer was full) left from the front: remove what was written by identity.
    for (const e of batch) {
      const i = this.pending.indexOf(e);
      if (i >= 0) this.pending.splice(i, 1);
    }
    this.o.metrics.written.inc(batch.length);
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.drain();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  /** Once per 10 s at most: a Redis outage must not turn every admin call into two log lines. */
  private logError(err: Error): void {
    const now = performance.now();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    this.o.log.warn({ err: err.message, pending: this.pending.length }, 'audit entry not written yet: Redis unreachable; retrying');
  }

  private decode(rows: StreamEntry[]): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const [id, fields] of rows) {
      const i = fields.indexOf('e');
      try {
        const e = JSON.parse(fields[i + 1] ?? '') as AuditEntry;
        out.push({ id, ...e });
      } catch {
        // Not written by this code (someone XADDed by hand): skipped rather than failing the whole read.
        this.o.log.debug({ id }, 'unreadable audit entry skipped');
      }
    }
    return out;
  }
}

/** The smallest stream id after `id` (XRANGE's exclusive `(id` needs Redis 6.2; this works on any). */
export function nextId(id: string): string {
  const m = /^(\d+)-(\d+)$/.exec(id);
  if (!m) return '-';
  return `${m[1]}-${BigInt(m[2]!) + 1n}`;
}

/** `<cluster>:audit`, following whatever prefix scheme the cluster's other keys use. */
export function auditKey(names: { cluster: string; members: string; audit?: string }): string {
  if (names.audit !== undefined) return names.audit;
  // names.ts has no audit key yet: derive it from a sibling so a hash-tagged prefix ({cluster}:) is kept.
  return names.members.endsWith(':members') ? names.members.slice(0, -'members'.length) + 'audit' : `${names.cluster}:audit`;
}
