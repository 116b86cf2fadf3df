/**
 * Pure rules for applying ConfigUpdates in cluster seq order (DESIGN §4). No I/O here, so the
 * gap and reset handling can be tested without Redis.
 */
export type SeqDecision =
  | { action: 'apply' }
  | { action: 'duplicate' }
  /** Updates (applied, seq) were missed: read them from the log first. */
  | { action: 'gap'; from: number; to: number };

export function decide(applied: number, seq: number): SeqDecision {
  if (seq <= applied) return { action: 'duplicate' };
  if (seq === applied + 1) return { action: 'apply' };
  return { action: 'gap', from: applied + 1, to: seq - 1 };
}

export type CatchUpPlan =
  /** The log holds every missing update: apply these, in this order. */
  | { action: 'apply'; seqs: number[] }
  /** The log no longer holds all of them: flush everything and resume at `to`. */
  | { action: 'flush'; to: number };

/**
 * Given the seqs found in the log for (applied, target], in log order, decides whether they can
 * be replayed. Anything short of the complete, contiguous range means an update is lost.
 */
export function planCatchUp(applied: number, target: number, found: readonly number[]): CatchUpPlan {
  if (target <= applied) return { action: 'apply', seqs: [] };
  const want = target - applied;
  if (found.length !== want) return { action: 'flush', to: target };
  for (let i = 0; i < want; i++) if (found[i] !== applied + 1 + i) return { action: 'flush', to: target };
  return { action: 'apply', seqs: [...found] };
}

export type SyncCheck =
  | { action: 'in_sync' }
  | { action: 'catch_up'; to: number }
  /** Redis lost its state (restart without data, flush): the node's seq means nothing any more. */
  | { action: 'reset'; to: number };

/** What a heartbeat's reading of the cluster's seq (and epoch) means for a node at `applied`. */
export function checkSync(applied: number, knownEpoch: string | undefined, current: number, epoch: string | null): SyncCheck {
  if (knownEpoch !== undefined && epoch !== knownEpoch) return { action: 'reset', to: current };
  if (current < applied) return { action: 'reset', to: current };
  if (current > applied) return { action: 'catch_up', to: current };
  return { action: 'in_sync' };
}
