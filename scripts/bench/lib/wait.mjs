/** Polls `check` until it returns true, or throws naming `what` after timeoutMs. */
export async function waitUntil(check, { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const pause = (ms) => new Promise((r) => setTimeout(r, ms));
