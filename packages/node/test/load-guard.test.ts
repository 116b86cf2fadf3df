import { LoadGuard } from '../src/cache/load-guard';

describe('LoadGuard', () => {
  it('a load with no invalidation in between may store', () => {
    const g = new LoadGuard();
    const t = g.begin();
    expect(g.end('alice', t)).toBe(true);
  });

  it('an invalidation of the same key during the load forbids storing', () => {
    const g = new LoadGuard();
    const t = g.begin();
    g.invalidate('alice');
    expect(g.fresh('alice', t)).toBe(false);
    expect(g.end('alice', t)).toBe(false);
  });

  it('an invalidation of another key does not', () => {
    const g = new LoadGuard();
    const t = g.begin();
    g.invalidate('bob');
    expect(g.end('alice', t)).toBe(true);
  });

  it('an invalidation of everything during the load forbids storing any key', () => {
    const g = new LoadGuard();
    const ta = g.begin();
    const tb = g.begin();
    g.invalidateAll();
    expect(g.end('alice', ta)).toBe(false);
    expect(g.end('bob', tb)).toBe(false);
  });

  it('an invalidation before the load began does not affect it', () => {
    const g = new LoadGuard();
    g.invalidate('alice');
    g.invalidateAll();
    const t = g.begin();
    expect(g.end('alice', t)).toBe(true);
  });

  it('an invalidation while another load is in flight does not affect a load begun after it', () => {
    const g = new LoadGuard();
    const first = g.begin();
    g.invalidate('alice');
    const second = g.begin();
    expect(g.end('alice', second)).toBe(true);
    expect(g.end('alice', first)).toBe(false);
  });

  it('a load begun after another ended keeps working once the per-key marks were dropped', () => {
    const g = new LoadGuard();
    const a = g.begin();
    g.invalidate('alice');
    expect(g.end('alice', a)).toBe(false);
    // No load in flight now; a new one must see neither the old mark nor miss a new invalidation.
    const b = g.begin();
    expect(g.fresh('alice', b)).toBe(true);
    g.invalidate('alice');
    expect(g.end('alice', b)).toBe(false);
  });

  it('a flush before the load began, then an invalidation of the key during it', () => {
    const g = new LoadGuard();
    g.invalidateAll();
    const t = g.begin();
    expect(g.fresh('alice', t)).toBe(true);
    g.invalidate('alice');
    expect(g.end('alice', t)).toBe(false);
  });

  it('many overlapping loads: only those overtaken by an invalidation of their key are refused', () => {
    const g = new LoadGuard();
    const t1 = g.begin(); // alice
    const t2 = g.begin(); // bob
    g.invalidate('alice');
    const t3 = g.begin(); // alice again, after the invalidation
    g.invalidate('bob');
    expect(g.end('alice', t1)).toBe(false);
    expect(g.end('alice', t3)).toBe(true);
    expect(g.end('bob', t2)).toBe(false);
  });
});
