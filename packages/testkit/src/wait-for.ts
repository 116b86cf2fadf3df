export interface WaitForOptions {
  /** Give up after this long (default 10 000 ms). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
  /** First part of the Error thrown at the deadline. */
  message?: string;
  /** Stop polling early (the abort reason is thrown). */
  signal?: AbortSignal;
}

type Probe<T> = () => Promise<T | undefined | false> | T | undefined | false;

/** Polls `probe` until it returns a truthy value; a throwing probe counts as "not yet" and its error is
 *  kept so that the deadline error can say why the condition never held. */
export async function waitFor<T>(probe: Probe<T>, opts: WaitForOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    attempts++;
    try {
      const value = await probe();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    opts.signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) break;
    await pause(Math.min(intervalMs, left), opts.signal);
  }
  const base = opts.message ?? 'waitFor: condition not met';
  const last = lastError === undefined ? 'last probe returned a falsy value' : `last error: ${describe(lastError)}`;
  throw new Error(`${base} (gave up after ${timeoutMs} ms, ${attempts} probes; ${last})`);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
