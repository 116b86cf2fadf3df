import { hdr } from './deps.mjs';

/** Latencies in microseconds (1 µs .. 60 s, 3 significant digits); summaries in milliseconds. */
export function latencyHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

export function recordMs(histogram, ms) {
  histogram.recordValue(Math.min(60_000_000, Math.max(1, Math.round(ms * 1000))));
}

export function summarize(histogram) {
  const ms = (us) => round(us / 1000, 3);
  return {
    count: histogram.totalCount,
    p50_ms: ms(histogram.getValueAtPercentile(50)),
    p90_ms: ms(histogram.getValueAtPercentile(90)),
    p99_ms: ms(histogram.getValueAtPercentile(99)),
    max_ms: ms(histogram.maxValue),
    mean_ms: ms(histogram.mean),
  };
}

/** Nearest-rank percentile of plain numbers. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function round(n, digits = 2) {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
