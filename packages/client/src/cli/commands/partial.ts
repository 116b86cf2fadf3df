import type { Propagation } from '../../types';
import { EXIT } from '../exit-codes';
import { partialMessage } from '../format';
import type { Session } from '../session';

/** Exit 1 when any node of any of these answers did not apply the change (partial propagation). */
export function partialExit(s: Session, results: readonly Propagation[]): number {
  if (results.every((r) => r.nodes.failed === 0)) return EXIT.OK;
  const nodes = [...new Set(results.flatMap((r) => (r.failures ?? []).map((f) => f.node)))];
  s.warn(partialMessage(nodes));
  return EXIT.REFUSED;
}
