import { waitFor } from '@authcache/testkit';

describe('waitFor', () => {
  it('resolves with the first truthy value, retrying through falsy values and errors', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls++;
        if (calls === 1) throw new Error('not yet');
        return calls >= 3 ? { calls } : false;
      },
      { intervalMs: 5 },
    );
    expect(value).toEqual({ calls: 3 });
  });

  it('throws at the deadline with the message and the last error', async () => {
    const started = Date.now();
    await expect(
      waitFor(
        async () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 200, intervalMs: 20, message: 'redis never came up' },
      ),
    ).rejects.toThrow(/^redis never came up \(gave up after 200 ms, \d+ probes; last error: connection refused\)$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('says the probe was falsy when no error was seen last', async () => {
    await expect(waitFor(() => undefined, { timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(
      /condition not met .*last probe returned a falsy value/,
    );
  });

  it('probes once even with a zero timeout', async () => {
    await expect(waitFor(() => 'ok', { timeoutMs: 0 })).resolves.toBe('ok');
  });

  it('stops early when its signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('process exited')), 30);
    const started = Date.now();
    await expect(waitFor(() => false, { timeoutMs: 10_000, intervalMs: 1000, signal: controller.signal })).rejects.toThrow('process exited');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
