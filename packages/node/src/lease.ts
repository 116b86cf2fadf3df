import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Renews only while we still hold the lease: compare-and-extend in one step. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis that at most one node holds at a time (SET NX PX, renewed by its holder):
 * how exactly one node of the cluster turns a backend's external changes into ConfigUpdates,
 * and another takes over within `ttlMs` when the holder dies. Expiry runs on Redis's clock, so
 * the nodes' clocks do not matter. See docs/architecture.md, "Adding a backend".
 */
export class Lease {
  private readonly token = randomUUID();
  private held = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** True while this node held the lease at its last acquire/renew. */
  get isHeld(): boolean {
    return this.held;
  }

  /** Acquires or renews; resolves to whether this node holds the lease now. Redis errors count as not held. */
  async tryHold(): Promise<boolean> {
    try {
      if (this.held) {
        this.held = (await this.redis.eval(RENEW, 1, this.key, this.token, this.ttlMs)) === 1;
      }
      if (!this.held) {
        this.held = (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
      }
    } catch {
      this.held = false;
    }
    return this.held;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.redis.eval(RELEASE, 1, this.key, this.token).catch(() => undefined);
  }
}
