import { BoundedCache } from '../src/cache/bounded-cache';
import { FakeClock } from './fakes';

interface E {
  loadedAt: number;
  v: string;
}

describe('BoundedCache', () => {
  let clock: FakeClock;
  let caches: BoundedCache<E>[];
  const make = (ttlMs: number, maxEntries: number) => {
    const c = new BoundedCache<E>({ ttlMs, maxEntries, now: clock.now });
    caches.push(c);
    return c;
  };
  const entry = (v: string, loadedAt = clock.t): E => ({ v, loadedAt });

  beforeEach(() => {
    clock = new FakeClock();
    caches = [];
  });
  afterEach(() => caches.forEach((c) => c.close()));

  it('counts hits and misses, and reports size', () => {
    const c = make(10_000, 10);
    expect(c.get('a')).toBeUndefined();
    c.set('a', entry('1'));
    expect(c.get('a')?.v).toBe('1');
    expect(c.get('a')?.v).toBe('1');
    expect(c.get('b')).toBeUndefined();
    expect(c.snapshot()).toEqual({ size: 1, hits: 2, misses: 2, evictions: 0, loads: 0, load_failures: 0 });
  });

  it('leaves loads and load_failures to its owner, and reports them', () => {
    const c = make(10_000, 10);
    c.stats.loads += 3;
    c.stats.load_failures += 1;
    expect(c.snapshot()).toMatchObject({ loads: 3, load_failures: 1 });
  });

  it('peek neither counts nor touches recency', () => {
    const c = make(10_000, 2);
    c.set('a', entry('1'));
    c.set('b', entry('2'));
    expect(c.peek('a')?.v).toBe('1');
    c.set('c', entry('3'));
    // `a` was only peeked, so it stayed the least recently used and went first.
    expect(c.keys()).toEqual(['b', 'c']);
    expect(c.snapshot()).toMatchObject({ hits: 0, misses: 0, evictions: 1 });
  });

  it('evicts the least recently used entry at max_entries, never refusing a new one', () => {
    const c = make(10_000, 3);
    c.set('a', entry('1'));
    c.set('b', entry('2'));
    c.set('c', entry('3'));
    // Reading `a` makes `b` the oldest.
    expect(c.get('a')).toBeDefined();
    c.set('d', entry('4'));
    expect(c.size).toBe(3);
    expect(c.peek('b')).toBeUndefined();
    expect(c.keys().sort()).toEqual(['a', 'c', 'd']);
    c.set('e', entry('5'));
    expect(c.peek('c')).toBeUndefined();
    expect(c.snapshot()).toMatchObject({ size: 3, evictions: 2 });
  });

  it('replacing a held key does not evict and makes it the most recent', () => {
    const c = make(10_000, 2);
    c.set('a', entry('1'));
    c.set('b', entry('2'));
    c.set('a', entry('1b'));
    expect(c.snapshot()).toMatchObject({ size: 2, evictions: 0 });
    c.set('c', entry('3'));
    expect(c.keys()).toEqual(['a', 'c']);
    expect(c.peek('a')?.v).toBe('1b');
  });

  it('an entry is valid until loadedAt + ttl (exclusive), then a miss that drops it', () => {
    const c = make(1000, 10);
    c.set('a', entry('1'));
    clock.advance(999);
    expect(c.get('a')).toBeDefined();
    clock.advance(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
    expect(c.snapshot()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('does not store a value that is already past its validity', () => {
    const c = make(1000, 10);
    c.set('old', entry('x', clock.t - 1000));
    expect(c.size).toBe(0);
    expect(c.peek('old')).toBeUndefined();
  });

  it('shortening the TTL expires entries already held', () => {
    const c = make(60_000, 10);
    c.set('old', entry('1'));
    clock.advance(5000);
    c.set('new', entry('2'));
    c.configure(3000, 10);
    // `old` is 5 s old, past the new 3 s TTL; `new` is still within it.
    expect(c.get('old')).toBeUndefined();
    expect(c.get('new')).toBeDefined();
    clock.advance(3000);
    expect(c.get('new')).toBeUndefined();
  });

  it('shortening the TTL applies on read even without configure dropping the entry first', () => {
    const c = make(60_000, 10);
    c.set('a', entry('1'));
    clock.advance(2000);
    c.configure(5000, 10);
    expect(c.size).toBe(1);
    clock.advance(3000);
    expect(c.get('a')).toBeUndefined();
  });

  it('lengthening the TTL keeps held entries and extends their validity', () => {
    const c = make(1000, 10);
    c.set('a', entry('1'));
    clock.advance(500);
    c.configure(10_000, 10);
    clock.advance(5000);
    expect(c.get('a')?.v).toBe('1');
    expect(c.size).toBe(1);
  });

  it('lengthening the TTL also moves the expiry node-cache keeps underneath', () => {
    // Here node-cache's own clock (Date.now) is the test's clock, so its expiry is seen.
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const c = new BoundedCache<E>({ ttlMs: 1000, maxEntries: 10 });
      caches.push(c);
      c.set('a', { v: '1', loadedAt: Date.now() });
      jest.advanceTimersByTime(500);
      c.configure(10_000, 10);
      jest.advanceTimersByTime(5000);
      expect(c.get('a')?.v).toBe('1');
      // node-cache's periodic sweep must not drop it either.
      jest.advanceTimersByTime(3000);
      expect(c.size).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('when node-cache expires an entry itself, it leaves the recency order too', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const c = new BoundedCache<E>({ ttlMs: 1000, maxEntries: 10 });
      caches.push(c);
      c.set('a', { v: '1', loadedAt: Date.now() });
      jest.advanceTimersByTime(61_000);
      expect(c.size).toBe(0);
      expect(c.keys()).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('configure with an unchanged TTL keeps everything', () => {
    const c = make(10_000, 10);
    c.set('a', entry('1'));
    c.set('b', entry('2'));
    c.configure(10_000, 10);
    expect(c.keys()).toEqual(['a', 'b']);
  });

  it('lowering max_entries evicts down to the new bound, least recently used first', () => {
    const c = make(10_000, 5);
    for (const k of ['a', 'b', 'c', 'd', 'e']) c.set(k, entry(k));
    c.get('a');
    c.get('b');
    c.configure(10_000, 2);
    expect(c.keys()).toEqual(['a', 'b']);
    expect(c.snapshot()).toMatchObject({ size: 2, evictions: 3 });
    // And the new bound holds for later inserts.
    c.set('f', entry('f'));
    expect(c.keys()).toEqual(['b', 'f']);
  });

  it('ttl 0 disables: clears what it held and stores nothing', () => {
    const c = make(10_000, 10);
    c.set('a', entry('1'));
    c.configure(0, 10);
    expect(c.enabled).toBe(false);
    expect(c.size).toBe(0);
    expect(c.get('a')).toBeUndefined();
    c.set('b', entry('2'));
    expect(c.size).toBe(0);
    expect(c.peek('b')).toBeUndefined();
  });

  it('a cache created with ttl 0 stores nothing, and enabling it again starts empty and works', () => {
    const c = make(0, 10);
    expect(c.enabled).toBe(false);
    c.set('a', entry('1'));
    expect(c.get('a')).toBeUndefined();
    c.configure(5000, 10);
    expect(c.enabled).toBe(true);
    c.set('a', entry('1'));
    expect(c.get('a')?.v).toBe('1');
  });

  it('delete and clear', () => {
    const c = make(10_000, 10);
    c.set('a', entry('1'));
    c.set('b', entry('2'));
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    expect(c.keys()).toEqual(['b']);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get('b')).toBeUndefined();
  });
});
