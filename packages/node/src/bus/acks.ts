/**
 * Acknowledgement bookkeeping of one published update (docs/architecture.md, "Acks"): who must
 * answer, what each said, and the admin answer built from it. Pure; the replicator feeds it.
 */
import type { Propagation, PropagationFailure } from '@authcache/protocol';
import type { ExpectedMembers } from '../membership';

export interface DownMember {
  node: string;
  last_seen_ms: number;
}

/** The acknowledgements an admin call waits for: who must answer, and what each said. */
export interface AckWaiter {
  /** False until the members read with the publish is in: no verdict before that. */
  known: boolean;
  expected: Set<string>;
  /** Members that stopped heartbeating without leaving: reported as failed unless they answer anyway. */
  down: DownMember[];
  results: Map<string, { ok: boolean; error?: string }>;
  /** Expected members not heard from yet: kept as a count so that each answer costs O(1), not O(members). */
  missing: number;
  done: () => void;
}

export function newWaiter(self: string): AckWaiter {
  return { known: false, expected: new Set([self]), down: [], results: new Map(), missing: 1, done: () => undefined };
}

/** Adds `node` to the members that must answer (an answer it already gave counts). */
export function expectFrom(w: AckWaiter, node: string): void {
  if (w.expected.has(node)) return;
  w.expected.add(node);
  if (!w.results.has(node)) w.missing++;
}

/** Complete once every live member answered; down members are not waited for. */
export function isComplete(w: AckWaiter): boolean {
  return w.known && w.missing === 0;
}

/** Notes one member's answer (a repeated one replaces the first); completes the wait when it was the last one missing. */
export function record(w: AckWaiter, node: string, ok: boolean, error?: string): void {
  if (!w.results.has(node) && w.expected.has(node)) w.missing--;
  w.results.set(node, { ok, ...(error !== undefined ? { error } : {}) });
  if (isComplete(w)) w.done();
}

/** The answer of an admin call: every member expected, down or heard from, as OpenSearch's node responses. */
export function summarize(seq: number, w: AckWaiter): Propagation {
  const failures: PropagationFailure[] = [];
  const members: Propagation['members'] = [];
  const down = new Map(w.down.map((d) => [d.node, d]));
  const all = new Set([...w.expected, ...down.keys(), ...w.results.keys()]);
  for (const id of [...all].sort()) {
    const r = w.results.get(id);
    const d = down.get(id);
    if (!r && d && !w.expected.has(id)) failures.push({ node: id, reason: 'down', last_seen_ms: d.last_seen_ms });
    else if (!r) failures.push({ node: id, reason: 'timeout' });
    else if (!r.ok) failures.push({ node: id, reason: r.error ?? 'failed' });
    members.push({ node: id, result: !r ? (d && !w.expected.has(id) ? 'failed' : 'timeout') : r.ok ? 'applied' : 'failed' });
  }
  return { seq, nodes: { total: all.size, successful: all.size - failures.length, failed: failures.length }, failures, members };
}

/** The open waits of this node's publishes, by update id. */
export class AckWaits {
  private readonly open = new Map<string, AckWaiter>();

  /**
   * Waits for the acks of update `id`: opened before `published` runs, so that acks arriving
   * before the publish's reply are kept; then bounded by `timeoutMs` once the members are known.
   */
  async collect(id: string, self: string, timeoutMs: number, published: () => Promise<{ seq: number; members: ExpectedMembers | undefined }>): Promise<Propagation> {
    const w = newWaiter(self);
    const allAcked = new Promise<void>((resolve) => (w.done = resolve));
    this.open.set(id, w);
    let timeout: NodeJS.Timeout | undefined;
    try {
      const { seq, members } = await published();
      for (const node of members?.live ?? []) expectFrom(w, node);
      w.down = (members?.down ?? []).filter((d) => !w.expected.has(d.node));
      w.known = true;
      if (isComplete(w)) w.done();
      await Promise.race([allAcked, new Promise<void>((resolve) => (timeout = setTimeout(resolve, timeoutMs)))]);
      return summarize(seq, w);
    } finally {
      clearTimeout(timeout);
      this.open.delete(id);
    }
  }

  record(id: string, node: string, ok: boolean, error?: string): void {
    const w = this.open.get(id);
    if (w) record(w, node, ok, error);
  }
}
