import { hash, randomBytes } from 'node:crypto';

/**
 * Failed-login throttling, per username and per client address (local to the node). After
 * `maxFailures` failures within `windowMs`, further attempts for that key are refused until the
 * window since the last failure has passed. A success clears the username's count, not the
 * address's: one valid account must not let an address reset its budget against the others.
 *
 * Attempts still being checked count against the limit too: failures are only known once bcrypt
 * has finished, so counting them alone let 50 guesses in flight through a limit of 5. Every
 * attempt that goes to the backend holds a slot until it ends (see `begin`); identical attempts
 * (same user and password) in flight share one slot: they are one guess (a known user's even
 * share one bcrypt), and a busy client retrying after a flush must not throttle itself.
 */
export interface ThrottleOptions {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
  /** Keys kept at most; beyond it the oldest are dropped (a flood of random usernames stays bounded). */
  maxKeys?: number;
  now?: () => number;
}

interface Counter {
  failures: number;
  last: number;
  /** Guesses still being checked: guess key -> attempts sharing it. */
  pending: Map<string, number>;
}

/** What an in-flight attempt is told to wait when no failure is on record yet. */
const IN_FLIGHT_RETRY_MS = 1000;

/** An attempt let through by `begin`; end it exactly once. */
export interface Attempt {
  /**
   * The check goes on past this call (it returned a promise): from now on the attempt holds a
   * slot against both limits until `end`. An attempt answered at once never needs one.
   */
  hold(): void;
  /** `true`: succeeded; `false`: rejected (counts as a failure); `undefined`: no answer (backend down). */
  end(ok: boolean | undefined): void;
}

export type Admission = { admitted: true; attempt: Attempt } | { admitted: false; retryAfterMs: number };

export class LoginThrottle {
  private readonly users = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();
  private readonly now: () => number;
  private readonly maxKeys: number;
  /** Keys the guess digests, so that no password (nor an unkeyed hash of one) is held in flight. */
  private readonly guessKey = `${randomBytes(32).toString('base64')}\0`;

  constructor(private readonly o: ThrottleOptions) {
    this.now = o.now ?? Date.now;
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  get enabled(): boolean {
    return this.o.maxFailuresPerUser > 0 || this.o.maxFailuresPerAddress > 0;
  }

  /**
   * Admits an attempt or says how long to wait. Nothing else may run between `begin` and the
   * attempt's `hold` (both synchronous in the same turn), or two attempts could both take the
   * last slot. The guess digest is only computed when a slot is actually needed or contested,
   * so a login answered from the cache pays nothing for it.
   */
  begin(username: string, address: string, password: string): Admission {
    let guess: string | undefined;
    const guessOf = () => (guess ??= hash('sha256', `${this.guessKey}${username}\0${password}`, 'base64'));
    const wait = Math.max(
      this.blockedFor(this.users, username, this.o.maxFailuresPerUser, guessOf),
      this.blockedFor(this.addresses, address, this.o.maxFailuresPerAddress, guessOf),
    );
    if (wait > 0) return { admitted: false, retryAfterMs: wait };
    let held: Array<[Map<string, Counter>, string, Counter]> = [];
    let ended = false;
    const attempt: Attempt = {
      hold: () => {
        if (ended || held.length > 0) return;
        const g = guessOf();
        if (this.o.maxFailuresPerUser > 0) held.push([this.users, username, this.counter(this.users, username)]);
        if (this.o.maxFailuresPerAddress > 0) held.push([this.addresses, address, this.counter(this.addresses, address)]);
        for (const [, , c] of held) c.pending.set(g, (c.pending.get(g) ?? 0) + 1);
      },
      end: (ok) => {
        if (ended) return;
        ended = true;
        // Release the slot first: the counter object is released even if it was evicted meanwhile.
        for (const [, , c] of held) release(c, guess!);
        held = [];
        if (ok === true) this.succeeded(username);
        else if (ok === false) this.failed(username, address);
      },
    };
    return { admitted: true, attempt };
  }

  /** Milliseconds a new guess for `username` from `address` would have to wait, or 0. */
  retryAfterMs(username: string, address: string): number {
    // No guess in flight has the empty key: the answer is for a guess not yet in flight.
    const none = () => '';
    return Math.max(
      this.blockedFor(this.users, username, this.o.maxFailuresPerUser, none),
      this.blockedFor(this.addresses, address, this.o.maxFailuresPerAddress, none),
    );
  }

  failed(username: string, address: string): void {
    if (this.o.maxFailuresPerUser > 0) this.bump(this.users, username);
    if (this.o.maxFailuresPerAddress > 0) this.bump(this.addresses, address);
  }

  succeeded(username: string): void {
    const c = this.users.get(username);
    if (!c) return;
    // Other attempts of the user may still be in flight: their slots stay.
    if (c.pending.size > 0) c.failures = 0;
    else this.users.delete(username);
  }

  /**
   * Wait for `key`: failures on record at the limit, or failures plus distinct guesses in flight
   * at the limit unless this very guess is one of them (it shares that slot).
   */
  private blockedFor(map: Map<string, Counter>, key: string, max: number, guessOf: () => string): number {
    if (max <= 0) return 0;
    const c = map.get(key);
    if (!c) return 0;
    const left = c.failures > 0 ? c.last + this.o.windowMs - this.now() : 0;
    if (left <= 0) {
      c.failures = 0;
      if (c.pending.size === 0) {
        map.delete(key);
        return 0;
      }
    }
    if (c.failures >= max) return left;
    if (c.failures + c.pending.size >= max && !c.pending.has(guessOf())) return left > 0 ? left : Math.min(IN_FLIGHT_RETRY_MS, this.o.windowMs);
    return 0;
  }

  /** The counter of `key`, created empty if need be (an in-flight attempt needs one to hold its slot). */
  private counter(map: Map<string, Counter>, key: string): Counter {
    let c = map.get(key);
    if (!c) {
      c = { failures: 0, last: 0, pending: new Map() };
      this.insert(map, key, c);
    }
    return c;
  }

  private bump(map: Map<string, Counter>, key: string): void {
    const now = this.now();
    const c = map.get(key) ?? { failures: 0, last: 0, pending: new Map<string, number>() };
    const fresh = c.failures > 0 && now - c.last < this.o.windowMs;
    c.failures = fresh ? c.failures + 1 : 1;
    c.last = now;
    map.delete(key); // re-insert: Map order is then least recently failed first
    this.insert(map, key, c);
  }

  private insert(map: Map<string, Counter>, key: string, c: Counter): void {
    map.set(key, c);
    while (map.size > this.maxKeys) map.delete(map.keys().next().value as string);
  }
}

function release(c: Counter, guess: string): void {
  const n = (c.pending.get(guess) ?? 0) - 1;
  if (n > 0) c.pending.set(guess, n);
  else c.pending.delete(guess);
}
