import { availableParallelism } from 'node:os';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';
import { Limiter } from './limiter';

/**
 * bcrypt through @node-rs/bcrypt, whose async calls run on libuv's thread pool, off the event
 * loop. At most `concurrency` run at once (default: one core less than the machine has): the
 * pool has 4 threads whatever the core count, and 4 bcrypt threads on 2 cores starve the event
 * loop that serves cached logins (bench: cached p99 162 ms during a cold-login storm at 4, 11 ms
 * at 1).
 */
export class Passwords {
  private readonly dummy: Promise<string>;
  private readonly limiter: Limiter;

  constructor(
    private readonly cost: number,
    readonly concurrency = Math.max(1, availableParallelism() - 1),
  ) {
    this.limiter = new Limiter(concurrency);
    // Unknown users and LOGIN=false roles are checked against this, so every rejection costs one bcrypt.
    this.dummy = bcryptHash('authcache-dummy-password', cost);
  }

  hash(password: string): Promise<string> {
    return this.limiter.run(() => bcryptHash(password, this.cost));
  }

  async verify(password: string, hash: string): Promise<boolean> {
    try {
      return await this.limiter.run(() => bcryptVerify(password, hash));
    } catch {
      // A hash that is not bcrypt never matches.
      return false;
    }
  }

  /** Spends the time of one bcrypt check and returns false. */
  async burn(password: string): Promise<false> {
    await this.verify(password, await this.dummy);
    return false;
  }
}

export function isBcryptHash(s: string): boolean {
  return /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(s);
}
