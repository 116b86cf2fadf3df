/**
 * Keeps a backend read that began before an invalidation from being cached after it.
 * A load takes a ticket when it starts; an invalidation of its key (or of everything) bumps
 * the clock; at the end the load may store its result only if nothing invalidated its key
 * since its ticket was taken.
 */
export class LoadGuard {
  private clock = 0;
  private flushedAt = 0;
  private readonly keyInvalidatedAt = new Map<string, number>();
  private inFlight = 0;

  begin(): number {
    this.inFlight++;
    return this.clock;
  }

  /** True if nothing invalidated `key` since `ticket` was taken: its result may be stored. */
  fresh(key: string, ticket: number): boolean {
    return this.flushedAt <= ticket && (this.keyInvalidatedAt.get(key) ?? 0) <= ticket;
  }

  /** Ends a load; true if its result may be stored. */
  end(key: string, ticket: number): boolean {
    const fresh = this.fresh(key, ticket);
    this.inFlight--;
    // With no load in flight no ticket older than the clock exists: the per-key marks can go.
    if (this.inFlight === 0) this.keyInvalidatedAt.clear();
    return fresh;
  }

  invalidate(key: string): void {
    if (this.inFlight > 0) this.keyInvalidatedAt.set(key, ++this.clock);
    else this.clock++;
  }

  invalidateAll(): void {
    this.flushedAt = ++this.clock;
  }
}
