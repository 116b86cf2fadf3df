import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_REASONS } from '@authcache/protocol';

/** Every metric of a node, on a registry of its own (several nodes may share a process in tests). */
export class Metrics {
  readonly registry = new Registry();
  readonly logins = new Counter({ name: 'authcache_logins_total', help: 'Login checks by result', labelNames: ['result'], registers: [this.registry] });
  readonly loginOk = this.logins.labels('ok');
  readonly loginCached = this.logins.labels('cached');
  readonly loginRejected = this.logins.labels('rejected');
  readonly loginUnavailable = this.logins.labels('unavailable');
  readonly loginThrottled = this.logins.labels('throttled');
  readonly busRejected = new Counter({ name: 'authcache_bus_rejected_total', help: 'Bus messages rejected, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly updatesApplied = new Counter({ name: 'authcache_updates_applied_total', help: 'ConfigUpdates applied, by kind', labelNames: ['kind'], registers: [this.registry] });
  readonly catchUps = new Counter({ name: 'authcache_catchups_total', help: 'Missed updates read back from the log', registers: [this.registry] });
  readonly gapFlushes = new Counter({ name: 'authcache_gap_flushes_total', help: 'Full flushes because the log no longer held a missed update', registers: [this.registry] });
  readonly resets = new Counter({ name: 'authcache_resets_total', help: 'Full flushes because Redis lost its state', registers: [this.registry] });
  readonly reconnects = new Counter({ name: 'authcache_redis_reconnects_total', help: 'Redis connections re-established', labelNames: ['connection'], registers: [this.registry] });
  readonly appliedSeq = new Gauge({ name: 'authcache_applied_seq', help: 'Highest ConfigUpdate seq applied', registers: [this.registry] });
  readonly lag = new Gauge({ name: 'authcache_seq_lag', help: 'Cluster seq minus applied seq at the last heartbeat', registers: [this.registry] });
  readonly syncAge = new Gauge({ name: 'authcache_sync_age_seconds', help: 'Age of the last confirmed sync with the cluster', registers: [this.registry] });
  readonly inSync = new Gauge({ name: 'authcache_in_sync', help: '1 while the node trusts its cache, 0 while it is out of sync', registers: [this.registry] });

  /**
   * `eventLoopResolutionMs`: how often the event-loop delay is sampled (`nodejs_eventloop_lag_*`).
   * prom-client's 10 ms is the default; each sample wakes an idle node, 100 times a second, which
   * was three quarters of an idle node's CPU and, with 32 nodes on 2 cores, 3,200 wake-ups a second
   * competing with every flush (docs/architecture.md, "Scaling limits").
   */
  constructor(opts: { eventLoopResolutionMs?: number } = {}) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: opts.eventLoopResolutionMs ?? 10 });
    for (const reason of [...REJECT_REASONS, 'replayed', 'bad_seq']) this.busRejected.labels(reason).inc(0);
  }

  /** Cache gauges read at scrape time, so the login path only bumps plain counters. */
  addCacheStats(read: () => Record<string, Record<string, number>>): void {
    const g = new Gauge({
      name: 'authcache_cache',
      help: 'Cache statistics by cache and stat (size, hits, misses, evictions, loads, load_failures)',
      labelNames: ['cache', 'stat'],
      registers: [this.registry],
      collect() {
        for (const [cache, stats] of Object.entries(read())) for (const [stat, v] of Object.entries(stats)) g.labels(cache, stat).set(v);
      },
    });
  }
}
