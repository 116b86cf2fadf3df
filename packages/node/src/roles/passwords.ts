import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';

/**
 * bcrypt through @node-rs/bcrypt: its async calls run on libuv's thread pool, so a storm of
 * cold logins does not block the event loop that serves cached ones.
 */
export class Passwords {
  private readonly dummy: Promise<string>;

  constructor(private readonly cost: number) {
    // Unknown users and LOGIN=false roles are checked against this, so every rejection costs one bcrypt.
    this.dummy = bcryptHash('authcache-dummy-password', cost);
  }

  async hash(password: string): Promise<string> {
    return bcryptHash(password, this.cost);
  }

  async verify(password: string, hash: string): Promise<boolean> {
    try {
      return await bcryptVerify(password, hash);
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
