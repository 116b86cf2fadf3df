import { LoginThrottle, type ThrottleOptions } from '../src/security/login-throttle';

/** A throttle on a clock the test moves by hand. */
function throttle(o: Partial<ThrottleOptions> = {}) {
  let t = 1_000_000;
  const th = new LoginThrottle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 10, windowMs: 1000, now: () => t, ...o });
  return {
    th,
    advance: (ms: number) => (t += ms),
    failTimes(n: number, user: string, address: string) {
      for (let i = 0; i < n; i++) th.failed(user, address);
    },
  };
}

describe('LoginThrottle', () => {
  it('is disabled only when both limits are 0', () => {
    expect(throttle({ maxFailuresPerUser: 0, maxFailuresPerAddress: 0 }).th.enabled).toBe(false);
    expect(throttle({ maxFailuresPerUser: 1, maxFailuresPerAddress: 0 }).th.enabled).toBe(true);
    expect(throttle({ maxFailuresPerUser: 0, maxFailuresPerAddress: 1 }).th.enabled).toBe(true);
  });

  it('lets a user fail maxFailures times, then refuses for the rest of the window since the last failure', () => {
    const { th, advance, failTimes } = throttle();
    failTimes(2, 'alice', 'a1');
    expect(th.retryAfterMs('alice', 'a1')).toBe(0);
    advance(300);
    th.failed('alice', 'a1');
    expect(th.retryAfterMs('alice', 'a1')).toBe(1000);
    advance(400);
    expect(th.retryAfterMs('alice', 'a1')).toBe(600);
  });

  it('counts a user across addresses: changing address does not escape the per-user limit', () => {
    const { th } = throttle();
    th.failed('alice', 'a1');
    th.failed('alice', 'a2');
    th.failed('alice', 'a3');
    expect(th.retryAfterMs('alice', 'a4')).toBeGreaterThan(0);
  });

  it('leaves other users of the same address alone below the address limit', () => {
    const { th, failTimes } = throttle();
    failTimes(3, 'alice', 'a1');
    expect(th.retryAfterMs('alice', 'a1')).toBeGreaterThan(0);
    expect(th.retryAfterMs('bob', 'a1')).toBe(0);
    expect(th.retryAfterMs('bob', 'a2')).toBe(0);
  });

  it('limits an address across usernames, and only that address', () => {
    const { th } = throttle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 4 });
    for (const u of ['u1', 'u2', 'u3']) th.failed(u, 'a1');
    expect(th.retryAfterMs('fresh', 'a1')).toBe(0);
    th.failed('u4', 'a1');
    expect(th.retryAfterMs('fresh', 'a1')).toBe(1000);
    expect(th.retryAfterMs('fresh', 'a2')).toBe(0);
  });

  it('a success clears the user count but not the address count', () => {
    const { th, failTimes } = throttle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 5 });
    failTimes(2, 'alice', 'a1');
    th.succeeded('alice');
    // Without the reset, 2 + 2 = 4 failures would be over the user limit of 3.
    failTimes(2, 'alice', 'a1');
    expect(th.retryAfterMs('alice', 'a2')).toBe(0);
    // The address has 4 failures; the success did not give it a fresh budget.
    th.failed('mallory', 'a1');
    expect(th.retryAfterMs('anyone', 'a1')).toBeGreaterThan(0);
  });

  it('forgets failures once the window has passed since the last one', () => {
    const { th, advance, failTimes } = throttle();
    failTimes(3, 'alice', 'a1');
    advance(999);
    expect(th.retryAfterMs('alice', 'a1')).toBe(1);
    advance(1);
    expect(th.retryAfterMs('alice', 'a1')).toBe(0);
    // The count starts again from one: two more failures are still allowed.
    failTimes(2, 'alice', 'a1');
    expect(th.retryAfterMs('alice', 'a1')).toBe(0);
    th.failed('alice', 'a1');
    expect(th.retryAfterMs('alice', 'a1')).toBe(1000);
  });

  it('does not add up failures spaced further apart than the window', () => {
    const { th, advance } = throttle();
    for (let i = 0; i < 10; i++) {
      th.failed('slow', 'a1');
      advance(1000);
    }
    expect(th.retryAfterMs('slow', 'a1')).toBe(0);
  });

  it('a limit of 0 disables that dimension only', () => {
    const perAddressOnly = throttle({ maxFailuresPerUser: 0, maxFailuresPerAddress: 2 });
    perAddressOnly.failTimes(50, 'alice', 'a1');
    expect(perAddressOnly.th.retryAfterMs('alice', 'a2')).toBe(0);
    expect(perAddressOnly.th.retryAfterMs('bob', 'a1')).toBeGreaterThan(0);

    const perUserOnly = throttle({ maxFailuresPerUser: 2, maxFailuresPerAddress: 0 });
    for (let i = 0; i < 50; i++) perUserOnly.th.failed(`u${i}`, 'a1');
    expect(perUserOnly.th.retryAfterMs('fresh', 'a1')).toBe(0);
    expect(perUserOnly.th.retryAfterMs('u1', 'a1')).toBe(0);
    perUserOnly.th.failed('u1', 'a9');
    expect(perUserOnly.th.retryAfterMs('u1', 'a1')).toBeGreaterThan(0);
  });

  it('keeps at most maxKeys keys, dropping the least recently failed', () => {
    const { th, failTimes } = throttle({ maxFailuresPerUser: 2, maxFailuresPerAddress: 0, maxKeys: 3 });
    failTimes(2, 'old', 'a1');
    failTimes(2, 'mid', 'a1');
    failTimes(2, 'new', 'a1');
    expect(th.retryAfterMs('old', 'a1')).toBeGreaterThan(0);
    // 'old' failing again makes it the most recent; 'mid' is now the oldest and goes first.
    th.failed('old', 'a1');
    th.failed('flood', 'a1');
    expect(th.retryAfterMs('mid', 'a1')).toBe(0);
    expect(th.retryAfterMs('old', 'a1')).toBeGreaterThan(0);
    expect(th.retryAfterMs('new', 'a1')).toBeGreaterThan(0);
  });

  it('stays bounded under a flood of random usernames', () => {
    const { th } = throttle({ maxFailuresPerUser: 1, maxFailuresPerAddress: 0, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) th.failed(`random-${i}`, 'a1');
    const held = Array.from({ length: 10_000 }, (_, i) => th.retryAfterMs(`random-${i}`, 'a1') > 0).filter(Boolean).length;
    expect(held).toBe(100);
  });
});
