/**
 * The membership rules without Redis: ages by Redis's clock, UP/DOWN at 3 heartbeats + 500 ms,
 * departed members, the forget time, who an update waits for, and "alone" with foreign heartbeats.
 */

import type { Decoded, StoredHeartbeat } from '../src/membership/heartbeat-codec';
import { downAfterMs, expectedOf, judge, othersPresent, redisTimeMs, rejectForgettable, rulesFor, noteUp, vanished } from '../src/membership/liveness';

const HEARTBEAT_MS = 1000;
const rules = rulesFor(HEARTBEAT_MS, 600_000);
const NOW = 1_800_000_000_000;

function entry(id: string, ageMs: number, left = false): StoredHeartbeat {
  return { id, stampMs: NOW - ageMs, seqAtBeat: 7, hb: { id, address: `h:${id}`, applied_seq: 7, started: 0, cache: {}, ...(left ? { left } : {}) } };
}

describe('liveness rules', () => {
  it('DOWN after 3 heartbeats + 500 ms without one', () => {
    expect(downAfterMs(1000)).toBe(3500);
    expect(downAfterMs(200)).toBe(1100);
    expect(judge(entry('a', 0), NOW, rules).state).toBe('up');
    expect(judge(entry('a', 3499), NOW, rules).state).toBe('up');
    expect(judge(entry('a', 3500), NOW, rules).state).toBe('down');
  });

  it('the age is Redis now minus the Redis stamp; a stamp ahead of Redis (its clock went back) is age 0, not negative', () => {
    expect(judge(entry('a', 1234), NOW, rules).ageMs).toBe(1234);
    expect(judge(entry('a', -5000), NOW, rules)).toMatchObject({ ageMs: 0, state: 'up' });
  });

  it('reads Redis TIME (seconds, microseconds) as ms', () => {
    expect(redisTimeMs(['1800000000', '999999'])).toBe(1_800_000_000_999);
    expect(redisTimeMs(['1800000000', '000500'])).toBe(1_800_000_000_000);
  });

  it('a member that left is neither live nor a failure, however fresh', () => {
    const m = judge(entry('a', 0, true), NOW, rules);
    expect(m.state).toBe('left');
    expect(expectedOf([m])).toEqual({ live: [], down: [] });
  });

  it('a silent member stays expected as down with its age until the forget time, then is forgotten', () => {
    const members = [entry('up', 100), entry('silent', 4000), entry('old', 600_000), entry('gone', 10, true), entry('gone-old', 700_000, true)].map((e) => judge(e, NOW, rules));
    expect(expectedOf(members)).toEqual({ live: ['up'], down: [{ node: 'silent', last_seen_ms: 4000 }] });
    expect(members.filter((m) => m.forget).map((m) => m.id)).toEqual(['old', 'gone-old']);
  });

  it('a live member is never forgotten, even with a forget time shorter than the DOWN bound', () => {
    expect(judge(entry('a', 2000), NOW, rulesFor(HEARTBEAT_MS, 1000)).forget).toBe(false);
  });

  it('expected lists are sorted by id', () => {
    const members = ['c', 'a', 'b'].map((id) => judge(entry(id, 0), NOW, rules));
    expect(expectedOf(members).live).toEqual(['a', 'b', 'c']);
  });

  describe('alone (first node of a fresh cluster)', () => {
    const reject = (id: string, ageMs: number | undefined): Decoded => ({ ok: false, id, reason: 'bad signature', stampMs: ageMs === undefined ? undefined : NOW - ageMs });

    it('alone with only itself, DOWN and departed members', () => {
      const members = [entry('me', 0), entry('silent', 5000), entry('left', 0, true)].map((e) => judge(e, NOW, rules));
      expect(othersPresent('me', members, [], NOW, rules)).toBe(false);
    });

    it('not alone when another member is live', () => {
      expect(othersPresent('me', [judge(entry('other', 3000), NOW, rules)], [], NOW, rules)).toBe(true);
    });

    it('not alone beside a fresh heartbeat signed with another secret; a stale or unstamped one does not count', () => {
      expect(othersPresent('me', [], [reject('x', 100)], NOW, rules)).toBe(true);
      expect(othersPresent('me', [], [reject('x', 3500)], NOW, rules)).toBe(false);
      expect(othersPresent('me', [], [reject('x', undefined)], NOW, rules)).toBe(false);
      expect(othersPresent('me', [], [reject('me', 0)], NOW, rules)).toBe(false);
    });

    it('a rejected entry is deleted once its Redis stamp is past the forget time; one without a stamp stays', () => {
      expect(rejectForgettable(reject('x', 600_000), NOW, rules)).toBe(true);
      expect(rejectForgettable(reject('x', 599_999), NOW, rules)).toBe(false);
      expect(rejectForgettable(reject('x', undefined), NOW, rules)).toBe(false);
    });
  });
});

describe('vanished', () => {
  const rules = { downAfterMs: 3500, forgetMs: 600_000 };
  it('names the members last seen UP that the read no longer returns, until they would be DOWN', () => {
    const lastUp = new Map([
      ['a', 10_000],
      ['b', 9_000],
      ['c', 6_000],
    ]);
    expect(vanished(lastUp, new Set(['a']), 9_000, rules)).toEqual(['b', 'c']);
    // c was last UP 3.6 s ago: it would be DOWN by now; b at 3.6 s too, later.
    expect(vanished(lastUp, new Set(['a']), 9_600, rules)).toEqual(['b']);
    expect(vanished(lastUp, new Set(['a']), 12_600, rules)).toEqual([]);
    expect(vanished(lastUp, new Set(['a', 'b', 'c']), 10_000, rules)).toEqual([]);
  });
});

describe('noteUp', () => {
  const rules = { downAfterMs: 3500, forgetMs: 600_000 };
  const member = (id: string, state: 'up' | 'down' | 'left', ageMs: number) => ({ id, state, ageMs }) as unknown as Parameters<typeof noteUp>[1][number];
  it('notes when each UP member was last seen, drops the others and those last UP too long ago', () => {
    const lastUp = new Map([
      ['gone', 1_000],
      ['old', 5_000],
    ]);
    noteUp(lastUp, [member('a', 'up', 200), member('gone', 'down', 4000), member('b', 'left', 10)], 10_000, rules);
    // a seen 200 ms before the read; gone judged DOWN, b left: not UP any more; old last UP 5 s ago.
    expect([...lastUp]).toEqual([['a', 9_800]]);
  });
});
