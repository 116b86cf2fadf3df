import { performance } from 'node:perf_hooks';
import { exchange, keepAliveAgent } from './http.mjs';
import { latencyHistogram, recordMs, summarize } from './stats.mjs';

/**
 * An open-loop load: POST `body` to `url` at a steady `rate`, one request every 1/rate s whether or
 * not earlier ones have answered, each latency measured from the moment it was due (so a stall counts
 * against every request it delayed, not just the ones in flight). autocannon's rate option sends each
 * second's quota in one burst, which measures the burst instead of the server.
 */
export function startPacedLoad({ url, body, rate, maxSockets = 64, phaseOf = () => 'main' }) {
  const agent = keepAliveAgent(maxSockets);
  const histograms = new Map();
  const stats = { sent: 0, answered: 0, non2xx: 0, errors: 0 };
  const intervalMs = 1000 / rate;
  const t0 = performance.now();
  let due = 0;
  const inFlight = new Set();

  const send = (dueAt) => {
    const phase = phaseOf();
    stats.sent++;
    const p = exchange(url, { method: 'POST', body, agent, timeoutMs: 30_000 }).then(
      (r) => {
        stats.answered++;
        if (r.status < 200 || r.status >= 300) return void stats.non2xx++;
        let h = histograms.get(phase);
        if (!h) histograms.set(phase, (h = latencyHistogram()));
        recordMs(h, performance.now() - dueAt);
      },
      () => void stats.errors++,
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const timer = setInterval(() => {
    const now = performance.now();
    while (t0 + due * intervalMs <= now) send(t0 + due++ * intervalMs);
  }, 1);

  return {
    stats,
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      agent.destroy();
      const seconds = (performance.now() - t0) / 1000;
      const phases = {};
      for (const [phase, h] of histograms) phases[phase] = summarize(h);
      return { rate_per_s: rate, seconds: Math.round(seconds * 100) / 100, ...stats, phases };
    },
  };
}
