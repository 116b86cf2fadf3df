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

  describe('attempts in flight count against the limits', () => {
    /** Admits and holds (as an attempt that went to bcrypt does); undefined when refused. */
    const inFlight = (th: LoginThrottle, user: string, address: string, password: string) => {
      const a = th.begin(user, address, password);
      if (!a.admitted) return undefined;
      a.attempt.hold();
      return a.attempt;
    };

    it('50 different guesses for one user in flight: only the limit get through, the rest wait', () => {
      const { th } = throttle({ maxFailuresPerUser: 5, maxFailuresPerAddress: 0 });
      const admitted = Array.from({ length: 50 }, (_, i) => inFlight(th, 'alice', `a${i}`, `guess-${i}`)).filter((a) => a !== undefined);
      expect(admitted).toHaveLength(5);
      const refused = th.begin('alice', 'a99', 'guess-99');
      expect(refused.admitted).toBe(false);
      if (!refused.admitted) expect(refused.retryAfterMs).toBeGreaterThan(0);
      // Their rejections turn the slots into failures: still refused, now for the window.
      for (const a of admitted) a!.end(false);
      expect(th.retryAfterMs('alice', 'a1')).toBe(1000);
      expect(th.begin('alice', 'a1', 'guess-100').admitted).toBe(false);
    });

    it('per address likewise, across usernames', () => {
      const { th } = throttle({ maxFailuresPerUser: 0, maxFailuresPerAddress: 4 });
      const admitted = Array.from({ length: 20 }, (_, i) => inFlight(th, `u${i}`, 'a1', 'pw')).filter((a) => a !== undefined);
      expect(admitted).toHaveLength(4);
      expect(th.begin('other', 'a1', 'pw').admitted).toBe(false);
      expect(th.begin('other', 'a2', 'pw').admitted).toBe(true);
    });

    it('failures on record and guesses in flight add up', () => {
      const { th, failTimes } = throttle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 0 });
      failTimes(2, 'alice', 'a1');
      expect(inFlight(th, 'alice', 'a1', 'g1')).toBeDefined();
      expect(th.begin('alice', 'a1', 'g2').admitted).toBe(false);
    });

    it('a success frees its slot and clears the user count; an attempt with no answer frees it and counts nothing', () => {
      const { th } = throttle({ maxFailuresPerUser: 2, maxFailuresPerAddress: 0 });
      const ok = inFlight(th, 'alice', 'a1', 'right')!;
      const down = inFlight(th, 'alice', 'a1', 'other')!;
      expect(th.begin('alice', 'a1', 'third').admitted).toBe(false);
      ok.end(true);
      down.end(undefined);
      // Both slots are free and nothing was counted: two fresh guesses fit again.
      expect(inFlight(th, 'alice', 'a1', 'g1')).toBeDefined();
      expect(inFlight(th, 'alice', 'a1', 'g2')).toBeDefined();
      expect(th.begin('alice', 'a1', 'g3').admitted).toBe(false);
    });

    it('a success while other guesses are in flight keeps their slots', () => {
      const { th } = throttle({ maxFailuresPerUser: 2, maxFailuresPerAddress: 0 });
      inFlight(th, 'alice', 'a1', 'g1');
      const ok = inFlight(th, 'alice', 'a1', 'right')!;
      ok.end(true);
      expect(inFlight(th, 'alice', 'a1', 'g2')).toBeDefined();
      expect(th.begin('alice', 'a1', 'g3').admitted).toBe(false);
    });

    it('the same guess in flight many times is one slot (one guess)', () => {
      const { th } = throttle({ maxFailuresPerUser: 2, maxFailuresPerAddress: 2 });
      const same = Array.from({ length: 30 }, () => inFlight(th, 'alice', 'a1', 'pw'));
      expect(same.every((a) => a !== undefined)).toBe(true);
      expect(inFlight(th, 'alice', 'a1', 'other')).toBeDefined();
      expect(th.begin('alice', 'a1', 'third').admitted).toBe(false);
      // The shared guess is still welcome at the limit: it adds no slot.
      expect(th.begin('alice', 'a1', 'pw').admitted).toBe(true);
      // The same password for another user is another guess.
      expect(th.begin('bob', 'a1', 'pw').admitted).toBe(false);
    });

    it('an attempt answered at once (never held) takes no slot', () => {
      const { th } = throttle({ maxFailuresPerUser: 1, maxFailuresPerAddress: 1 });
      for (let i = 0; i < 100; i++) {
        const a = th.begin('alice', 'a1', `cached-${i}`);
        expect(a.admitted).toBe(true);
        if (a.admitted) a.attempt.end(true);
      }
      expect(th.retryAfterMs('alice', 'a1')).toBe(0);
    });

    it('end is idempotent: a slot is released once and a failure counted once', () => {
      const { th } = throttle({ maxFailuresPerUser: 3, maxFailuresPerAddress: 0 });
      const a = inFlight(th, 'alice', 'a1', 'g1')!;
      inFlight(th, 'alice', 'a1', 'g1');
      a.end(false);
      a.end(false);
      // One failure on record, one slot still held by the second g1: room for exactly one more guess.
      expect(inFlight(th, 'alice', 'a1', 'g2')).toBeDefined();
      expect(th.begin('alice', 'a1', 'g3').admitted).toBe(false);
    });

    it('slots held do not expire with the window; they go when their attempts end', () => {
      const { th, advance } = throttle({ maxFailuresPerUser: 1, maxFailuresPerAddress: 0 });
      const a = inFlight(th, 'alice', 'a1', 'g1')!;
      advance(10_000);
      expect(th.begin('alice', 'a1', 'g2').admitted).toBe(false);
      a.end(undefined);
      expect(th.begin('alice', 'a1', 'g2').admitted).toBe(true);
    });
  });
});

