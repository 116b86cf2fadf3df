/**
 * A publish the master applied and broadcast, but fewer replicas than required confirmed within the
 * wait (`AUTHCACHE_REDIS_MIN_REPLICAS`, `WAIT`): a failover now could lose it, so the call answers
 * 504, never a silent 200 (docs/architecture.md, "Redis topologies", Durability).
 *
 * The update went out, so the nodes apply and acknowledge it like any other: the transport throws
 * this after the publish with the seq it got; the replicator still collects the acks and throws it
 * again carrying the propagation (`withPropagation`), so that the answer reports the seq, how many
 * replicas confirmed, and every node's result.
 */
import type { Propagation } from '@authcache/protocol';
import { TransportError, type Published } from './transport';

export class NotDurableError extends TransportError {
  constructor(
    readonly seq: number,
    readonly replicated: number,
    readonly required: number,
    /** Every node's result, once the replicator collected the acks; undefined as the transport throws it. */
    readonly propagation?: Propagation,
  ) {
    // `unknown`: the change may stand (and then its invalidation was published with it).
    super('unknown', `${replicated} of ${required} required replicas confirmed update ${seq}: not confirmed durable`);
    this.name = 'NotDurableError';
  }

  /** The same failure, with the acks collected for the update. */
  withPropagation(p: Propagation): NotDurableError {
    return new NotDurableError(this.seq, this.replicated, this.required, p);
  }
}

/** The `error` text of the 504 answer: says whether no replica or too few confirmed, and what that risks. */
export function notDurableMessage(e: Pick<NotDurableError, 'seq' | 'replicated' | 'required'>): string {
  const who = e.replicated === 0 ? 'not confirmed by any replica' : 'not confirmed by enough replicas';
  return (
    `outcome unknown: ${who} — ${e.replicated} of ${e.required} required replicas confirmed update ${e.seq}; ` +
    'the master applied and broadcast it (see nodes), but a failover now could lose it: read the state back before repeating the call'
  );
}

/** One publish's durability: a NotDurableError stands in for its seq until the acks are in, then is thrown with them. */
export class DurabilityWatch {
  private failure: NotDurableError | undefined;

  /**
   * What `publish` answered, also when it was not confirmed durable (noted, for settle; then
   * without the members version, which the membership reads itself).
   */
  async published(publish: () => Promise<Published>): Promise<Published> {
    try {
      return await publish();
    } catch (err) {
      if (!(err instanceof NotDurableError)) throw err;
      this.failure = err;
      return { seq: err.seq };
    }
  }

  /** `p` itself, or the NotDurableError carrying it. */
  settle(p: Propagation): Propagation {
    if (this.failure) throw this.failure.withPropagation(p);
    return p;
  }
}
