import { checkSync, decide, planCatchUp } from '../src/bus/sequencer';

describe('decide', () => {
  it.each([
    [0, 1, { action: 'apply' }],
    [41, 42, { action: 'apply' }],
    [5, 5, { action: 'duplicate' }],
    [5, 3, { action: 'duplicate' }],
    [0, 0, { action: 'duplicate' }],
    [5, 7, { action: 'gap', from: 6, to: 6 }],
    [5, 10, { action: 'gap', from: 6, to: 9 }],
    [0, 3, { action: 'gap', from: 1, to: 2 }],
  ])('applied %i, seq %i -> %j', (applied, seq, want) => {
    expect(decide(applied, seq)).toEqual(want);
  });
});

describe('planCatchUp', () => {
  it('nothing to do when the target is not ahead', () => {
    expect(planCatchUp(5, 5, [])).toEqual({ action: 'apply', seqs: [] });
    expect(planCatchUp(5, 3, [4, 5])).toEqual({ action: 'apply', seqs: [] });
  });

  it('replays the complete contiguous range in order', () => {
    expect(planCatchUp(5, 8, [6, 7, 8])).toEqual({ action: 'apply', seqs: [6, 7, 8] });
    expect(planCatchUp(0, 1, [1])).toEqual({ action: 'apply', seqs: [1] });
  });

  it('returns a copy, not the caller array', () => {
    const found = [6, 7];
    const plan = planCatchUp(5, 7, found);
    found.push(99);
    expect(plan).toEqual({ action: 'apply', seqs: [6, 7] });
  });

  it.each([
    ['the log lost the oldest', 5, 8, [7, 8]],
    ['one missing in the middle', 5, 8, [6, 8]],
    ['nothing found', 5, 8, []],
    ['the newest is missing', 5, 8, [6, 7]],
    ['out of order', 5, 8, [6, 8, 7]],
    ['right count, wrong seqs (log trimmed past the range)', 5, 8, [7, 8, 9]],
    ['a duplicate in place of one missing', 5, 8, [6, 6, 8]],
    ['more than asked', 5, 7, [6, 7, 8]],
  ])('flushes when %s', (_why, applied, target, found) => {
    expect(planCatchUp(applied, target, found)).toEqual({ action: 'flush', to: target });
  });
});

describe('checkSync', () => {
  it('in sync at the same seq and epoch', () => {
    expect(checkSync(7, 'e1', 7, 'e1')).toEqual({ action: 'in_sync' });
  });

  it('in sync with no epoch known yet (first reading) at the same seq', () => {
    expect(checkSync(0, undefined, 0, null)).toEqual({ action: 'in_sync' });
    expect(checkSync(3, undefined, 3, 'e1')).toEqual({ action: 'in_sync' });
  });

  it('catches up when the cluster is ahead', () => {
    expect(checkSync(7, 'e1', 9, 'e1')).toEqual({ action: 'catch_up', to: 9 });
    expect(checkSync(0, undefined, 2, 'e1')).toEqual({ action: 'catch_up', to: 2 });
  });

  it('resets when the cluster seq went backwards (Redis lost its data)', () => {
    expect(checkSync(7, 'e1', 2, 'e1')).toEqual({ action: 'reset', to: 2 });
    expect(checkSync(7, undefined, 0, null)).toEqual({ action: 'reset', to: 0 });
  });

  it('resets when the epoch changed, whatever the seq', () => {
    expect(checkSync(7, 'e1', 7, 'e2')).toEqual({ action: 'reset', to: 7 });
    expect(checkSync(7, 'e1', 9, 'e2')).toEqual({ action: 'reset', to: 9 });
    expect(checkSync(7, 'e1', 0, null)).toEqual({ action: 'reset', to: 0 });
    // The epoch key is gone though the seq reads the same: Redis lost its state all the same.
    expect(checkSync(7, 'e1', 7, null)).toEqual({ action: 'reset', to: 7 });
  });
});
