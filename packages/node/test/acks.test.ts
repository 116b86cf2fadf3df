/**
 * The ack bookkeeping of one publish (bus/acks.ts), pure: who must answer, when the wait is
 * complete, and the answer built from it.
 */
import { AckWaits, expectFrom, isComplete, newWaiter, record, summarize } from '../src/bus/acks';

describe('one waiter', () => {
  it('is complete only once the members are known and every expected member answered', () => {
    const w = newWaiter('a');
    let done = 0;
    w.done = () => void done++;
    // Answers can arrive before the publish's reply says who must answer.
    record(w, 'b', true);
    record(w, 'a', true);
    expect(isComplete(w)).toBe(false);
    for (const n of ['a', 'b', 'c']) expectFrom(w, n);
    w.known = true;
    expect(isComplete(w)).toBe(false);
    record(w, 'c', true);
    expect(isComplete(w)).toBe(true);
    expect(done).toBe(1);
  });

  it('counts a repeated answer once, and an unexpected one not at all', () => {
    const w = newWaiter('a');
    expectFrom(w, 'b');
    expectFrom(w, 'b');
    w.known = true;
    record(w, 'b', true);
    record(w, 'b', true);
    record(w, 'stranger', true);
    expect(isComplete(w)).toBe(false);
    expect(w.missing).toBe(1);
    record(w, 'a', true);
    expect(isComplete(w)).toBe(true);
  });

  it('completes at the last of 10,000 answers, not before', () => {
    const w = newWaiter('n0');
    const ids = Array.from({ length: 10_000 }, (_, i) => `n${i}`);
    for (const id of ids) expectFrom(w, id);
    w.known = true;
    for (const id of ids.slice(0, -1)) record(w, id, true);
    expect(isComplete(w)).toBe(false);
    record(w, ids[ids.length - 1]!, true);
    expect(isComplete(w)).toBe(true);
  });

  it('reports every member: applied, failed with its error, timed out, or down', () => {
    const w = newWaiter('a');
    for (const n of ['a', 'b', 'c']) expectFrom(w, n);
    w.down = [{ node: 'd', last_seen_ms: 4200 }];
    w.known = true;
    record(w, 'a', true);
    record(w, 'b', false, 'boom');
    expect(summarize(7, w)).toEqual({
      seq: 7,
      nodes: { total: 4, successful: 1, failed: 3 },
      failures: [
        { node: 'b', reason: 'boom' },
        { node: 'c', reason: 'timeout' },
        { node: 'd', reason: 'down', last_seen_ms: 4200 },
      ],
      members: [
        { node: 'a', result: 'applied' },
        { node: 'b', result: 'failed' },
        { node: 'c', result: 'timeout' },
        { node: 'd', result: 'failed' },
      ],
    });
  });
});

describe('the open waits', () => {
  it('keeps answers that arrive before the publish returns, and answers once all are in', async () => {
    const waits = new AckWaits();
    const p = waits.collect('u1', 'a', 5_000, async () => {
      waits.record('u1', 'b', true);
      waits.record('u1', 'a', true);
      return { seq: 3, members: { live: ['a', 'b'], down: [] } };
    });
    await expect(p).resolves.toMatchObject({ seq: 3, nodes: { total: 2, successful: 2, failed: 0 } });
    // Closed: a late answer goes nowhere.
    expect(() => waits.record('u1', 'c', true)).not.toThrow();
  });
});
