import type { Propagation } from '@authcache/protocol';

/** The acknowledgements an admin call waits for: who must answer, and what each said. */
export interface AckWaiter {
  /** False until the members read with the publish is in: no verdict before that. */
  known: boolean;
  expected: Set<string>;
  results: Map<string, { ok: boolean; error?: string }>;
  done: () => void;
}

export function isComplete(w: AckWaiter): boolean {
  if (!w.known) return false;
  for (const id of w.expected) if (!w.results.has(id)) return false;
  return true;
}

/** Notes one member's answer; completes the wait when it was the last one missing. */
export function record(w: AckWaiter, node: string, ok: boolean, error?: string): void {
  w.results.set(node, { ok, ...(error !== undefined ? { error } : {}) });
  if (isComplete(w)) w.done();
}

/** The answer of an admin call: every member expected or heard from, as OpenSearch's node responses. */
export function summarize(seq: number, w: AckWaiter): Propagation {
  const failures: Propagation['failures'] = [];
  const members: Propagation['members'] = [];
  const all = new Set([...w.expected, ...w.results.keys()]);
  for (const id of [...all].sort()) {
    const r = w.results.get(id);
    if (!r) failures.push({ node: id, reason: 'timeout' });
    else if (!r.ok) failures.push({ node: id, reason: r.error ?? 'failed' });
    members.push({ node: id, result: !r ? 'timeout' : r.ok ? 'applied' : 'failed' });
  }
  const successful = all.size - failures.length;
  return { seq, nodes: { total: all.size, successful, failed: failures.length }, failures, members };
}
