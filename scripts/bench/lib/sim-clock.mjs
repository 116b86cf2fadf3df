// Simulated time for the simulation benchmark (docs/architecture.md, "Scaling limits"): 1,000
// replicators in one process cannot run on the wall clock (their timers would fight for one event
// loop and the figures would measure this machine, not the design). While installed, setTimeout /
// setInterval / clearTimeout / clearInterval are this clock's; time moves only when run() takes the
// next event, and every promise chain an event started settles before the next (one real
// setImmediate per instant: Node empties the microtask queue before it).

const realSetImmediate = setImmediate;
const realTimers = { setTimeout, setInterval, clearTimeout, clearInterval };

export class SimClock {
  constructor() {
    this.now = 0;
    this.events = 0;
    this.heap = [];
    this.order = 0;
  }

  setTimeout(fn, ms = 0, ...args) {
    return this.schedule({ fn, args, interval: 0 }, ms);
  }

  setInterval(fn, ms = 0, ...args) {
    return this.schedule({ fn, args, interval: Math.max(1, ms) }, ms);
  }

  clear(handle) {
    if (handle && typeof handle === 'object' && 'cancelled' in handle) handle.cancelled = true;
  }

  /** Replaces the global timers until the returned function is called. */
  install() {
    globalThis.setTimeout = (fn, ms, ...a) => this.setTimeout(fn, ms, ...a);
    globalThis.setInterval = (fn, ms, ...a) => this.setInterval(fn, ms, ...a);
    globalThis.clearTimeout = (h) => this.clear(h);
    globalThis.clearInterval = (h) => this.clear(h);
    return () => Object.assign(globalThis, realTimers);
  }

  /**
   * Runs events in time order until `until()` holds (checked after every instant) or the clock
   * would pass `deadline`; at most `maxEvents` events, so a runaway schedule fails instead of
   * spinning. Returns whether `until()` held.
   */
  async run({ deadline, until = () => false, maxEvents = 20_000_000 }) {
    const limit = this.events + maxEvents;
    if (until()) return true;
    while (this.heap.length && this.heap[0].at <= deadline) {
      const at = this.heap[0].at;
      this.now = at;
      // A timer set during this instant runs in the next one, after the promises settle (as in Node).
      const cutoff = this.order;
      while (this.heap.length && this.heap[0].at === at && this.heap[0].order < cutoff) {
        const ev = this.pop();
        if (ev.cancelled) continue;
        if (++this.events > limit) throw new Error(`simulation ran more than ${maxEvents} events before t=${deadline} ms`);
        if (ev.interval) this.push(ev, at + ev.interval);
        ev.fn(...ev.args);
      }
      await new Promise((resolve) => realSetImmediate(resolve));
      if (until()) return true;
    }
    this.now = Math.max(this.now, deadline);
    return until();
  }

  /** Runs `ms` of simulated time. */
  advance(ms) {
    return this.run({ deadline: this.now + ms });
  }

  schedule(ev, ms) {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    // What Node's timers answer to (unref, hasRef, refresh) so the code under test runs unchanged.
    Object.assign(ev, { cancelled: false, unref: () => ev, ref: () => ev, hasRef: () => false, refresh: () => ev });
    return this.push(ev, this.now + delay);
  }

  push(ev, at) {
    ev.at = at;
    ev.order = this.order++;
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
    return ev;
  }

  pop() {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/** Earlier first; at the same instant, in the order they were scheduled (as Node's timers). */
function before(a, b) {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
