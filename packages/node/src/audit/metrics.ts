import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The audit's and the event stream's metrics, on the node's registry. Each is created once per
 * registry (a test may build two servers on one node), and kept here so metrics.ts stays the
 * node's core set.
 */

export interface AuditMetrics {
  written: { inc(n?: number): void };
  writeErrors: { inc(n?: number): void };
  dropped: { inc(n?: number): void };
}

/** The audit's counters on the node's registry (once per registry: tests may build servers twice). */
export function auditMetrics(registry: Registry): AuditMetrics {
  const counter = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] });
  return {
    written: counter('authcache_audit_entries_total', 'Audit entries written to the audit stream by this node'),
    writeErrors: counter('authcache_audit_write_errors_total', 'Audit stream writes that failed (Redis unreachable or refusing); the entry is retried'),
    dropped: counter('authcache_audit_dropped_total', 'Audit entries lost: Redis stayed unreachable while the retry buffer was full'),
  };
}

/** `authcache_events_clients`: event streams open on this node, read at scrape time. */
export function eventClientsGauge(registry: Registry, clients: () => number): void {
  const name = 'authcache_events_clients';
  const existing = registry.getSingleMetric(name);
  if (existing) registry.removeSingleMetric(name);
  new Gauge({
    name,
    help: 'Server-Sent Event streams (GET /v1/events) open on this node',
    registers: [registry],
    collect() {
      this.set(clients());
    },
  });
}
