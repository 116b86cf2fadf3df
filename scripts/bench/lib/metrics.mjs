import { getText } from './http.mjs';

/** Prometheus text -> Map of `name` or `name{labels as sent}` -> number. */
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

export async function scrape(nodeUrl, agent) {
  const m = parseMetrics(await getText(`${nodeUrl}/metrics`, agent));
  const cache = (name, stat) => m.get(`authcache_cache{cache="${name}",stat="${stat}"}`);
  return {
    at: Date.now(),
    rss: m.get('process_resident_memory_bytes'),
    heapUsed: m.get('nodejs_heap_size_used_bytes'),
    heapTotal: m.get('nodejs_heap_size_total_bytes'),
    external: m.get('nodejs_external_memory_bytes'),
    // prom-client's monitorEventLoopDelay histogram, reset at every scrape: these describe the window since the last one.
    loopP99: m.get('nodejs_eventloop_lag_p99_seconds'),
    loopMax: m.get('nodejs_eventloop_lag_max_seconds'),
    loopP50: m.get('nodejs_eventloop_lag_p50_seconds'),
    cpuSeconds: m.get('process_cpu_seconds_total'),
    credentials: stats(cache, 'credentials'),
    roles: stats(cache, 'roles'),
    resets: m.get('authcache_resets_total'),
    gapFlushes: m.get('authcache_gap_flushes_total'),
  };
}

function stats(cache, name) {
  return Object.fromEntries(['size', 'loads', 'hits', 'misses', 'evictions'].map((stat) => [stat, cache(name, stat)]));
}
