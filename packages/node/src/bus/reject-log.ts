/**
 * What happens to a frame that is not applied: counted in `authcache_bus_rejected_total{reason}`
 * and logged at most once per reason per 10 s, so that a flood of garbage can neither fill the
 * log nor hide (docs/architecture.md, "Propagation": what is rejected).
 */
import type { Logger } from 'pino';
import type { RejectReason } from '@authcache/protocol';

/** Why a frame was not applied: the codec's reasons, and the replicator's own. */
export type Rejection = RejectReason | 'replayed' | 'bad_seq';

export const REJECT_LOG_INTERVAL_MS = 10_000;

export class RejectLog {
  private readonly last = new Map<Rejection, number>();

  constructor(
    private readonly log: Logger,
    private readonly count: (reason: Rejection) => void,
    private readonly now: () => number,
  ) {}

  reject(reason: Rejection, detail: string): void {
    this.count(reason);
    const t = this.now();
    const last = this.last.get(reason);
    if (last === undefined || t - last >= REJECT_LOG_INTERVAL_MS) {
      this.last.set(reason, t);
      this.log.warn({ reason, detail }, 'bus message rejected');
    }
  }
}
