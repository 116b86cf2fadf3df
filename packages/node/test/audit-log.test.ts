import Redis from 'ioredis';
import pino from 'pino';
import { startRedis, type RedisHandle } from '@authcache/testkit';
import { AuditLog, BATCH_MAX, BATCH_MS, PENDING_MAX, auditKey, nextId } from '../src/audit/audit-log';
import type { AuditEntry } from '../src/audit/audit-entry';

const entry = (i: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
  ts: new Date().toISOString(),
  actor: 'token',
  address: '127.0.0.1',
  action: 'flush_user',
  target: `user${i}`,
  seq: i,
  status: 200,
  nodes: { total: 3, successful: 3, failed: 0 },
  ...over,
});

function counters() {
  const c = { written: 0, writeErrors: 0, dropped: 0 };
  const metrics = {
    written: { inc: (n = 1) => void (c.written += n) },
    writeErrors: { inc: () => void c.writeErrors++ },
    dropped: { inc: () => void c.dropped++ },
  };
  return { c, metrics };
}

function capture() {
  const lines: any[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { lines, log };
}

describe('the audit stream in Redis', () => {
  let redis: RedisHandle;
  let conn: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  }, 60_000);
  afterAll(async () => {
    conn?.disconnect();
    await redis?.stop();
  });

  const make = (key: string, maxLen = 100, maxAgeMs = 3_600_000) => {
    const { c, metrics } = counters();
    const { lines, log } = capture();
    return { audit: new AuditLog({ redis: conn, key, settings: { maxLen, maxAgeMs }, log, metrics }), c, lines };
  };

  it('writes one entry and one pino line per call, and reads them back newest first with their ids', async () => {
    const { audit, c, lines } = make('t1:audit');
    for (let i = 1; i <= 5; i++) audit.record(entry(i));
    await audit.settled();
    expect(c.written).toBe(5);
    expect(lines.filter((l) => l.msg === 'admin call').map((l) => l.audit.target)).toEqual(['user1', 'user2', 'user3', 'user4', 'user5']);
    const all = await audit.list({ sinceMs: undefined, limit: 100 });
    expect(all.map((e) => e.target)).toEqual(['user5', 'user4', 'user3', 'user2', 'user1']);
    expect(all[0]!.id).toMatch(/^\d+-\d+$/);
    expect((await audit.list({ sinceMs: undefined, limit: 2 })).map((e) => e.target)).toEqual(['user5', 'user4']);
    expect(await audit.list({ sinceMs: Date.now() + 60_000, limit: 10 })).toEqual([]);
    expect(await audit.latestId()).toBe(all[0]!.id);
    expect((await audit.after(all[2]!.id!)).map((e) => e.target)).toEqual(['user4', 'user5']);
  });

  it('logs a refused or failed call at warn', async () => {
    const { audit, lines } = make('t2:audit');
    audit.record(entry(1, { status: 403, actor: 'anonymous' }));
    await audit.settled();
    expect(lines.find((l) => l.audit)).toMatchObject({ level: 40, msg: 'admin call refused or failed' });
  });

  it('is bounded by length', async () => {
    const { audit } = make('t3:audit', 3);
    for (let i = 1; i <= 10; i++) audit.record(entry(i));
    await audit.settled();
    expect(await conn.xlen('t3:audit')).toBe(3);
    expect((await audit.list({ sinceMs: undefined, limit: 10 })).map((e) => e.target)).toEqual(['user10', 'user9', 'user8']);
  });

  it('is bounded by age, by Redis\'s clock', async () => {
    const { audit } = make('t4:audit', 100, 1000);
    // An entry from two seconds ago (explicit id), then a new write trims it.
    const [s] = await conn.time();
    await conn.xadd('t4:audit', `${Number(s) * 1000 - 2000}-0`, 'e', JSON.stringify(entry(0)));
    audit.record(entry(1));
    await audit.settled();
    expect((await audit.list({ sinceMs: undefined, limit: 10 })).map((e) => e.target)).toEqual(['user1']);
  });

  it('appends by EVALSHA: the script text goes to Redis at most once', async () => {
    const { audit } = make('t6:audit');
    const calls = async (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await conn.info('commandstats'))?.[1] ?? 0);
    const [eval0, sha0] = [await calls('eval'), await calls('evalsha')];
    for (let i = 1; i <= 5; i++) audit.record(entry(i));
    await audit.settled();
    expect((await audit.list({ sinceMs: undefined, limit: 10 })).length).toBe(5);
    const [evals, shas] = [(await calls('eval')) - eval0, (await calls('evalsha')) - sha0];
    // ioredis sends the first call of a script on a connection as EVAL, the rest as EVALSHA; five
    // entries in one tick are at most two appends (the first at once, the rest batched).
    expect(evals + shas).toBeGreaterThanOrEqual(1);
    expect(evals + shas).toBeLessThanOrEqual(2);
    expect(evals).toBeLessThanOrEqual(1);
  });

  it('keeps the order of a burst written in batches of at most BATCH_MAX, and trims it as one', async () => {
    const { audit, c } = make('t7:audit', 1000);
    const n = BATCH_MAX * 2 + 10;
    for (let i = 1; i <= n; i++) audit.record(entry(i));
    await audit.settled();
    expect(c.written).toBe(n);
    const all = await audit.list({ sinceMs: undefined, limit: 1000 });
    expect(all.map((e) => e.target)).toEqual(Array.from({ length: n }, (_, i) => `user${n - i}`));
    const { audit: short } = make('t8:audit', 3);
    for (let i = 1; i <= 10; i++) short.record(entry(i));
    await short.settled();
    expect((await short.list({ sinceMs: undefined, limit: 10 })).map((e) => e.target)).toEqual(['user10', 'user9', 'user8']);
  });

  it('skips an entry it cannot read instead of failing the whole read', async () => {
    const { audit } = make('t5:audit');
    await conn.xadd('t5:audit', '*', 'e', '{not json');
    audit.record(entry(1));
    await audit.settled();
    expect((await audit.list({ sinceMs: undefined, limit: 10 })).map((e) => e.target)).toEqual(['user1']);
  });
});

describe('when Redis does not answer', () => {
  it('never throws, counts the failure, keeps the entry and writes it once Redis is back', async () => {
    let up = false;
    const written: string[] = [];
    const fake = {
      eval: async (_s: string, _n: number, _k: string, _l: string, _a: string, ...json: string[]) => {
        if (!up) throw new Error('Connection is closed.');
        written.push(...json.map((j) => JSON.parse(j).target));
        return json.map(() => '1-0');
      },
    };
    const { c, metrics } = counters();
    const { lines, log } = capture();
    const audit = new AuditLog({ redis: fake as never, key: 'k', settings: { maxLen: 10, maxAgeMs: 10_000 }, log, metrics });
    expect(() => audit.record(entry(1))).not.toThrow();
    await audit.settled();
    expect(c.writeErrors).toBe(1);
    expect(lines.some((l) => l.msg.includes('audit entry not written yet'))).toBe(true);
    up = true;
    audit.record(entry(2));
    await audit.settled();
    expect(written).toEqual(['user1', 'user2']);
    expect(c.written).toBe(2);
    await audit.stop();
  });

  it('sends the first entry after a quiet spell at once, and batches what follows within BATCH_MS', async () => {
    const appends: string[][] = [];
    const fake = { eval: async (_s: string, _n: number, _k: string, _l: string, _a: string, ...json: string[]) => (appends.push(json.map((j) => JSON.parse(j).target)), json.map(() => '1-0')) };
    const { c, metrics } = counters();
    const audit = new AuditLog({ redis: fake as never, key: 'k', settings: { maxLen: 10, maxAgeMs: 10_000 }, log: pino({ level: 'silent' }), metrics });
    audit.record(entry(1));
    // Sent in record() itself: no timer between an idle trail and Redis.
    expect(appends).toEqual([['user1']]);
    for (let i = 2; i <= 6; i++) audit.record(entry(i));
    expect(appends).toHaveLength(1);
    // Not settled() (which sends a waiting batch at once): the window's own timer sends it.
    const t0 = performance.now();
    while (c.written < 6 && performance.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 5));
    expect(appends).toEqual([['user1'], ['user2', 'user3', 'user4', 'user5', 'user6']]);
    expect(performance.now() - t0).toBeLessThan(BATCH_MS * 50);
    appends.length = 0;
    for (let i = 0; i < BATCH_MAX * 2 + 1; i++) audit.record(entry(i));
    await audit.settled();
    expect(appends.map((a) => a.length).reduce((x, y) => x + y, 0)).toBe(BATCH_MAX * 2 + 1);
    expect(Math.max(...appends.map((a) => a.length))).toBe(BATCH_MAX);
    await audit.stop();
  });

  it('drops the oldest entries beyond the retry buffer, and counts them', async () => {
    const fake = { eval: () => new Promise(() => undefined) };
    const { c, metrics } = counters();
    const audit = new AuditLog({ redis: fake as never, key: 'k', settings: { maxLen: 10, maxAgeMs: 10_000 }, log: pino({ level: 'silent' }), metrics });
    for (let i = 0; i < PENDING_MAX + 5; i++) audit.record(entry(i));
    expect(c.dropped).toBe(5);
  });
});

describe('keys and ids', () => {
  it('derives the key from the cluster\'s prefix scheme', () => {
    expect(auditKey({ cluster: 'c1', members: 'c1:members' })).toBe('c1:audit');
    expect(auditKey({ cluster: 'c1', members: '{c1}:members' })).toBe('{c1}:audit');
    expect(auditKey({ cluster: 'c1', members: 'x', audit: 'c1:trail' })).toBe('c1:trail');
  });
  it('steps past a stream id', () => {
    expect(nextId('1700000000000-0')).toBe('1700000000000-1');
    expect(nextId('0-0')).toBe('0-1');
  });
});
