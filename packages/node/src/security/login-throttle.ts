/**
 * Failed-login throttling, per username and per client address (local to the node). After
 * `maxFailures` failures within `windowMs`, further attempts for that key are refused until the
 * window since the last failure has passed. A success clears the username's count, not the
 * address's: one valid account must not let an address reset its budget against the others.
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
}

export class LoginThrottle {
  private readonly users = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly o: ThrottleOptions) {
    this.now = o.now ?? Date.now;
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  get enabled(): boolean {
    return this.o.maxFailuresPerUser > 0 || this.o.maxFailuresPerAddress > 0;
  }

  /** Milliseconds to wait before trying again, or 0 if the attempt may go ahead. */
  retryAfterMs(username: string, address: string): number {
    return Math.max(
      this.blockedFor(this.users, username, this.o.maxFailuresPerUser),
      this.blockedFor(this.addresses, address, this.o.maxFailuresPerAddress),
    );
  }

  failed(username: string, address: string): void {
    if (this.o.maxFailuresPerUser > 0) this.bump(this.users, username);
    if (this.o.maxFailuresPerAddress > 0) this.bump(this.addresses, address);
  }

  succeeded(username: string): void {
    this.users.delete(username);
  }

  private blockedFor(map: Map<string, Counter>, key: string, max: number): number {
    if (max <= 0) return 0;
    const c = map.get(key);
    if (!c) return 0;
    const left = c.last + this.o.windowMs - this.now();
    if (left <= 0) {
      map.delete(key);
      return 0;
    }
    return c.failures >= max ? left : 0;
  }

  private bump(map: Map<string, Counter>, key: string): void {
    const now = this.now();
    const c = map.get(key);
    const fresh = c && now - c.last < this.o.windowMs;
    map.delete(key); // re-insert: Map order is then least recently failed first
    map.set(key, { failures: fresh ? c.failures + 1 : 1, last: now });
    while (map.size > this.maxKeys) map.delete(map.keys().next().value as string);
  }
}
