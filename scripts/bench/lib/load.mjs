import { autocannon } from './deps.mjs';
import { latencyHistogram, recordMs, round, summarize } from './stats.mjs';

/**
 * An autocannon run (closed loop, as many requests as `connections` answer) of POST `body` to `url`.
 * Latencies of 2xx answers go to our own histograms (µs resolution; autocannon's own are whole
 * milliseconds), into the one `phaseOf()` names when the answer arrives. Stops after `durationS`,
 * or when stop() is called.
 */
export function startLoad({ url, body, connections, durationS, phaseOf = () => 'main', onTick }) {
  const histograms = new Map();
  const counts = new Map();
  let responses = 0;
  let non2xx = 0;
  const instance = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: durationS,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    responses++;
    if (statusCode < 200 || statusCode >= 300) {
      non2xx++;
      return;
    }
    const phase = phaseOf();
    let h = histograms.get(phase);
    if (!h) histograms.set(phase, (h = latencyHistogram()));
    recordMs(h, responseTime);
    counts.set(phase, (counts.get(phase) ?? 0) + 1);
  });
  const started = Date.now();
  const ticker = onTick && setInterval(() => onTick({ responses, elapsedS: (Date.now() - started) / 1000 }), 250);
  const finished = new Promise((resolve, reject) => {
    instance.on('done', (result) => {
      if (ticker) clearInterval(ticker);
      const seconds = (Date.now() - started) / 1000;
      const phases = {};
      for (const [phase, h] of histograms) phases[phase] = { ...summarize(h), answered: counts.get(phase) };
      resolve({
        seconds: round(seconds, 2),
        requests_per_s: round(result['2xx'] / Math.max(result.duration, 0.001), 0),
        ok: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        phases,
      });
    });
    instance.on('error', reject);
  });
  return { finished, stop: () => instance.stop(), responses: () => responses, non2xx: () => non2xx };
}

/** startLoad() to its end, its progress on the bench's status line as `label`. */
export function loadWithProgress(ctx, { label, url, body, connections, durationS }) {
  return startLoad({
    url,
    body,
    connections,
    durationS,
    onTick: ({ responses, elapsedS }) => ctx.progress.update(`${label}: ${responses.toLocaleString('en-US')} answers, ${Math.min(100, Math.round((100 * elapsedS) / durationS))} %`),
  }).finished;
}

/** A throughput figure over runs with failed answers would be wrong: such a run fails the bench. */
export function assertAllAnswered(runs) {
  for (const [label, r] of Object.entries(runs)) {
    if (r.non2xx || r.errors) throw new Error(`${label} run had ${r.non2xx} non-2xx answers and ${r.errors} errors`);
  }
}
