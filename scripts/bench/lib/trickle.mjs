import { exchange, keepAliveAgent } from './http.mjs';

/**
 * POSTs each of `bodies` once to `url`, at `rate` per second, without waiting for answers (an open
 * loop, like paced.mjs, but a bounded list); stop() stops sending, awaits the answers still out (each
 * bounded by its timeout) and counts them by status, with the slowest answer's time.
 */
export function startTrickle(url, bodies, rate) {
  // Sockets enough that requests waiting on a hung backend do not queue in the agent instead of the server.
  const agent = keepAliveAgent(64);
  const statuses = {};
  let worst = 0;
  const inFlight = new Set();
  let i = 0;
  const timer = setInterval(() => {
    if (i >= bodies.length) return;
    const p = exchange(url, { method: 'POST', body: bodies[i++], agent, timeoutMs: 10_000 }).then(
      (r) => {
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        worst = Math.max(worst, r.ms);
      },
      () => void (statuses.error = (statuses.error ?? 0) + 1),
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, 1000 / rate);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      agent.destroy();
      return { ...statuses, max_ms: Math.round(worst) };
    },
  };
}
