/**
 * Pure rules for applying ConfigUpdates in cluster seq order (docs/architecture.md,
 * "Propagation"). No I/O here, so the gap and reset handling can be tested without a
 * transport; the replicator acts on exactly the fields each decision returns.
 */
export type SeqDecision =
  | { action: 'apply' }
  | { action: 'duplicate' }
  /** Updates [from, to] were missed: catch up to `to` from the log, then apply this one. */
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

/**
 * What a heartbeat's reading of the cluster's seq (and epoch) means for a node at `applied`.
 * The reading must be taken in order with the updates (inside the apply queue): then a new epoch
 * is a store that lost its state, and `current < applied` under the same epoch is a store that
 * lost its tail (a failover to a stale replica). Either way the node flushes and resumes at `to`.
 */
export function checkSync(applied: number, knownEpoch: string | undefined, current: number, epoch: string | null): SyncCheck {
  if (knownEpoch !== undefined && epoch !== knownEpoch) return { action: 'reset', to: current };
  if (current < applied) return { action: 'reset', to: current };
  if (current > applied) return { action: 'catch_up', to: current };
  return { action: 'in_sync' };
}
