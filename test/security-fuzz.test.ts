/**
 * Hostile input against running nodes, from both sides:
 * - HTTP: fast-check throws random methods, paths (admin ones with and without the token), content
 *   types and bodies (JSON values, strings, bytes, deep nesting up to 64 KiB, oversized) at a node;
 *   every answer is a 2xx or a 4xx JSON {"error"} without internals, and the node stays healthy.
 * - Bus: replayed, out-of-range, forged and garbage frames published straight on the live Redis
 *   channel are rejected, counted by reason, logged at most once per reason per 10 s, and change
 *   no cache.
 */

import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createCodec, withSeq } from '@authcache/protocol';
import { call, useCluster, waitFor, warm } from './support';
import { basic, closeRedis, connectRedis, logLines, metricValue, raw, scrape, type RawReply, type RedisClient } from './support/security';

const s = useCluster({ size: 2 });
const KNOWN = { username: 'known_user_q7', password: 'known-pw-q7' };
let redis: RedisClient;
const exits: string[] = [];

beforeAll(async () => {
  redis = await connectRedis(s.redis.url);
  for (const n of s.nodes) void n.exited.then((code) => exits.push(`${n.id} exited with ${String(code)}`));
  expect((await call(s.nodes[0]!.url, 'PUT', `/v1/roles/${KNOWN.username}`, { token: s.token, json: { password: KNOWN.password, login: true } })).status).toBe(201);
});

afterAll(() => {
  closeRedis(redis);
});

async function expectHealthy(): Promise<void> {
  expect(exits).toEqual([]);
  for (const n of s.nodes) expect((await raw(`${n.url}/health`)).status).toBe(200);
}

// The bus first: the HTTP fuzzer holds the admin token and may leave odd cache settings behind.
describe('hostile frames on the live bus channel', () => {
  const names = () => ({ seq: `${s.cluster.cluster}:seq`, log: `${s.cluster.cluster}:log`, updates: `${s.cluster.cluster}:updates` });
  const rejected = async (url: string, reason: string) => metricValue(await scrape(url), 'authcache_bus_rejected_total', { reason });
  const rejectedEverywhere = (reason: string) => Promise.all(s.nodes.map((n) => rejected(n.url, reason)));
  const appliedSeqs = async () => Promise.all(s.nodes.map(async (n) => (await raw(`${n.url}/health`)).json.applied_seq as number));
  const gapFlushes = async () => Promise.all(s.nodes.map(async (n) => metricValue(await scrape(n.url), 'authcache_gap_flushes_total')));

  /** Every node still answers the warmed user from its cache: nothing flushed it. */
  const expectStillCached = async () => {
    const r = await Promise.all(s.nodes.map((n) => call(n.url, 'POST', '/v1/login', { json: KNOWN })));
    expect(r.map((x) => [x.status, x.json?.cached])).toEqual(s.nodes.map(() => [200, true]));
  };

  /** A real admin change after the attack still reaches every node. */
  const expectBusWorks = async () => {
    const r = await call(s.nodes[1]!.url, 'DELETE', '/v1/cache/users/someone_else', { token: s.token });
    expect(r.status).toBe(200);
    expect(r.json.nodes).toEqual({ total: 2, successful: 2, failed: 0 });
  };

  /**
   * What the publish script does, for a frame of our choosing: takes the next seq (so that it is no
   * gap), appends the frame to the log under it and publishes it, atomically.
   */
  const REPUBLISH = `
    local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
    if cur + 1 ~= tonumber(ARGV[2]) then return redis.error_reply('seq moved') end
    redis.call('INCR', KEYS[1])
    redis.call('XADD', KEYS[2], ARGV[2] .. '-0', 'm', ARGV[1])
    redis.call('PUBLISH', ARGV[3], ARGV[1])
    return cur + 1
  `;

  it('a replayed update under a new seq is rejected as "replayed" and changes nothing', async () => {
    const flush = await call(s.nodes[0]!.url, 'DELETE', '/v1/cache', { token: s.token });
    expect(flush.status).toBe(200);
    const flushSeq = flush.json.seq as number;
    await warm(s, KNOWN.username, KNOWN.password);

    const entries = await redis.xrangeBuffer(names().log, `${flushSeq}-0`, `${flushSeq}-0`);
    const frame = entries[0]?.[1][1];
    expect(Buffer.isBuffer(frame)).toBe(true);
    const before = await rejectedEverywhere('replayed');
    const n = Number(await redis.get(names().seq)) + 1;
    expect(await redis.eval(REPUBLISH, 2, names().seq, names().log, withSeq(frame!, n), n, names().updates)).toBe(n);

    await waitFor(async () => (await rejectedEverywhere('replayed')).every((v, i) => v === before[i]! + 1), {
      timeoutMs: 10_000,
      message: 'not every node counted the replay',
    });
    // The sequence moved past it (so the next real update is no gap) but the flush_all did nothing.
    await waitFor(async () => (await appliedSeqs()).every((seq) => seq === n), { timeoutMs: 10_000, message: `applied_seq never reached ${n}` });
    await expectStillCached();
    await expectBusWorks();
  });

  it('a correctly signed update with a seq above the cluster counter is rejected as "bad_seq": no flush', async () => {
    await warm(s, KNOWN.username, KNOWN.password);
    const before = await rejectedEverywhere('bad_seq');
    const flushesBefore = await gapFlushes();
    const seqsBefore = await appliedSeqs();
    const counter = Number(await redis.get(names().seq));
    // Signed with the real secret (an insider with the secret but no say over the counter), never seen before.
    const codec = createCodec(s.cluster.secret);
    const forged = codec.encode({ kind: 'flush_all', id: randomUUID(), origin: 'forger', ts: Date.now(), body: {} });
    await redis.publish(names().updates, withSeq(forged, counter + 1000));

    await waitFor(async () => (await rejectedEverywhere('bad_seq')).every((v, i) => v === before[i]! + 1), {
      timeoutMs: 10_000,
      message: 'not every node counted the bad seq',
    });
    expect(Number(await redis.get(names().seq))).toBe(counter);
    expect(await appliedSeqs()).toEqual(seqsBefore);
    expect(await gapFlushes()).toEqual(flushesBefore);
    await expectStillCached();
    await expectBusWorks();
  });

  it('a burst of 200 garbage and forged frames is counted by reason, logged at most once per reason, and changes nothing', async () => {
    await warm(s, KNOWN.username, KNOWN.password);
    const secret = s.cluster.secret;
    const signed = (payload: Buffer) => {
      const head = Buffer.alloc(9);
      head[0] = 1;
      head.writeUInt32BE(0, 1);
      head.writeUInt32BE(1, 5);
      const mac = createHmac('sha256', secret).update(head.subarray(0, 1)).update(payload).digest();
      return Buffer.concat([head, payload, mac]);
    };
    const otherCodec = createCodec(`not-the-${secret}`);
    const frames: Array<[string, Buffer]> = [];
    const add = (reason: string, count: number, make: (i: number) => Buffer) => {
      for (let i = 0; i < count; i++) frames.push([reason, make(i)]);
    };
    add('too_short', 40, (i) => randomBytes(i % 42));
    add('too_large', 20, (i) => Buffer.concat([Buffer.from([1]), randomBytes(64 * 1024 + i * 50)]));
    add('version', 40, (i) => Buffer.concat([Buffer.from([i % 2 === 0 ? 0 : 2 + (i % 250)]), randomBytes(60 + i)]));
    // Well-formed updates signed with another secret: forgeries.
    add('signature', 40, (i) => withSeq(otherCodec.encode({ kind: 'flush_all', id: randomUUID(), origin: 'forger', ts: Date.now(), body: {} }), i + 1));
    // Signed with the real secret, but not a msgpack map (an array, a number, a reserved byte).
    add('malformed', 30, (i) => signed([Buffer.from([0x93, 1, 2, 3]), Buffer.from([0x05]), Buffer.from([0xc1])][i % 3]!));
    // Signed maps that are not ConfigUpdates (empty; only a version).
    add('invalid', 30, (i) => signed(i % 2 === 0 ? Buffer.from([0x80]) : Buffer.from([0x81, 0xa1, 0x76, 0x01])));
    expect(frames.length).toBe(200);

    const reasons = [...new Set(frames.map(([r]) => r))];
    const before = new Map(await Promise.all(reasons.map(async (r) => [r, await rejectedEverywhere(r)] as const)));
    const flushesBefore = await gapFlushes();
    const logOffsets = s.nodes.map((n) => n.logs().length);

    const pipe = redis.pipeline();
    for (const [, f] of frames) pipe.publish(names().updates, f);
    await pipe.exec();

    const expected = (r: string) => frames.filter(([x]) => x === r).length;
    await waitFor(
      async () => {
        for (const r of reasons) {
          const now = await rejectedEverywhere(r);
          if (!now.every((v, i) => v === before.get(r)![i]! + expected(r))) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, message: 'not every node counted every garbage frame under its reason' },
    );
    let total = 0;
    for (const r of reasons) total += expected(r);
    expect(total).toBe(200);

    // One line per reason: poll until each node has logged each reason, then count.
    const rejectionLines = (i: number) =>
      logLines(s.nodes[i]!.logs().slice(logOffsets[i])).filter((l) => l.msg === 'bus message rejected').map((l) => String(l.reason));
    await waitFor(() => s.nodes.every((_, i) => reasons.every((r) => rejectionLines(i).includes(r))), {
      timeoutMs: 5000,
      message: 'some node did not log some rejection reason at all',
    });
    for (let i = 0; i < s.nodes.length; i++) {
      const lines = rejectionLines(i);
      for (const r of reasons) expect({ node: i, reason: r, lines: lines.filter((x) => x === r).length }).toEqual({ node: i, reason: r, lines: 1 });
      expect(lines.length).toBe(reasons.length);
    }

    expect(await gapFlushes()).toEqual(flushesBefore);
    await expectHealthy();
    await expectStillCached();
    await expectBusWorks();
  });
});

describe('HTTP API under random requests', () => {
  const SEED = 0x5ec0de;

  const PATHS = [
    '/v1/login',
    '/_plugins/_security/authinfo',
    '/v1/roles',
    '/v1/roles/fz_role',
    '/v1/cache',
    '/v1/cache/users/fz_user',
    '/v1/cache/settings',
    '/_cluster/settings',
    '/_plugins/_security/api/cache',
    '/_plugins/_security/api/cache/user/fz_user',
    '/v1/cluster/nodes',
    '/health',
    '/_plugins/_security/health',
    '/metrics',
    '/',
    '/v1',
    '/v1/roles/',
    '/nothing/here',
  ];
  // Never the known user's own role path: the fuzzer holds the admin token and could drop it.
  const segment = fc.string({ maxLength: 40 }).map((x) => `fz${encodeURIComponent(x)}`);
  const path = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
    fc.tuple(fc.constantFrom('/v1/roles/', '/v1/cache/users/', '/_plugins/_security/api/cache/user/', '/v1/'), segment).map(([a, b]) => a + b),
    fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom('local=true', 'caches=credentials,roles', 'caches=nope', 'local=maybe', '%zz', 'a=1&a=2&a[]=3')).map(([p, q]) => `${p}?${q}`),
  );
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
  // Mostly routes that exist with their own method, so that most requests get past the router to auth and validation.
  const ROUTES: Array<[string, string]> = [
    ['POST', '/v1/login'],
    ['GET', '/_plugins/_security/authinfo'],
    ['GET', '/v1/roles'],
    ['PUT', '/v1/roles/fz_role'],
    ['GET', '/v1/roles/fz_role'],
    ['DELETE', '/v1/roles/fz_role'],
    ['DELETE', '/v1/cache'],
    ['DELETE', '/v1/cache/users/fz_user'],
    ['GET', '/v1/cache/settings'],
    ['PUT', '/v1/cache/settings'],
    ['PUT', '/_cluster/settings'],
    ['GET', '/_cluster/settings'],
    ['DELETE', '/_plugins/_security/api/cache'],
    ['DELETE', '/_plugins/_security/api/cache/user/fz_user'],
    ['GET', '/v1/cluster/nodes'],
  ];
  const target = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ROUTES) },
    { weight: 2, arbitrary: fc.tuple(method, path) },
  );
  const printable = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
  const auth = fc.oneof(
    fc.constant(undefined as string | undefined),
    { weight: 3, arbitrary: fc.constant('__token__') }, // the admin token, resolved when the request is made: it is not known yet here
    printable(80).map((t) => `Bearer ${t}`),
    fc.tuple(printable(30), printable(30)).map(([u, p]) => basic(u, p)),
    fc.constant(basic(KNOWN.username, KNOWN.password)),
    printable(100),
  );
  const contentType = fc.oneof(
    { weight: 4, arbitrary: fc.constant('application/json' as string | undefined) },
    fc.constantFrom(
      undefined,
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
      '',
    ),
    printable(60),
  );
  const nasty = [
    '{"__proto__": {"superuser": true}, "username": "known_user_q7", "password": "x"}',
    '{"constructor": {"prototype": {"superuser": true}}}',
    '{"username": "known_user_q7", "password": "known-pw-q7", "username": "root"}',
    '{"username": null, "password": null}',
    '{"username": ["a"], "password": {"$ne": ""}}',
    '{"ttl_ms": 1e308, "max_entries": -1, "refresh_ms": 1.5}',
    '{"transient": {"plugins.security.cache.ttl_minutes": "NaN"}}',
    '{"persistent": {"plugins.security.cache.ttl_minutes": "-5"}}',
    '{"password": "", "login": "true", "roles": [null, 1, {}]}',
    '\u0000\u0001\u0002',
    '\ufeff{"username": "a", "password": "b"}',
    'null',
    '[]',
    '"just a string"',
    '123456789012345678901234567890',
  ];
  const body = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
    fc.integer({ min: 1, max: 32_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)), // <= 64000 bytes
    fc.integer({ min: 1, max: 10_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)), // <= 60001 bytes
    fc.record({ username: fc.jsonValue({ maxDepth: 2 }), password: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          password: fc.oneof(fc.string({ maxLength: 30 }), fc.integer()),
          login: fc.oneof(fc.boolean(), fc.string({ maxLength: 5 })),
          superuser: fc.oneof(fc.boolean(), fc.constant(null)),
          roles: fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.integer()), { maxLength: 5 }),
          cache: fc.constantFrom('credentials', 'roles', 'all', 'x'),
          ttl_ms: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
          max_entries: fc.oneof(fc.integer(), fc.constant(0)),
          persistent: fc.oneof(fc.boolean(), fc.constant('yes')),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    fc.constantFrom(...nasty),
    fc.integer({ min: 64 * 1024 + 1, max: 72 * 1024 }).map((n) => `{"username":"${'u'.repeat(n)}","password":"p"}`),
  );
  const request = fc.record({ node: fc.nat(1), target, auth, contentType, body });

  it('answers every request with a 2xx or a JSON 4xx, never a 5xx, and stays healthy', async () => {
    const seen = new Map<number, number>();
    const check = async (rq: { node: number; target: [string, string]; auth: string | undefined; contentType: string | undefined; body: string | Buffer | undefined }) => {
      const [verb, where] = rq.target;
      const base = s.nodes[rq.node % s.nodes.length]!.url;
      const headers: Record<string, string> = {};
      if (rq.auth !== undefined) headers.authorization = rq.auth === '__token__' ? `Bearer ${s.token}` : rq.auth;
      if (rq.contentType !== undefined) headers['content-type'] = rq.contentType;
      const r: RawReply = await raw(base + where, { method: verb, headers, body: rq.body });
      seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      const what = `${verb} ${where} -> ${r.status} ${r.text.slice(0, 200)}`;
      expect({ what, ok: (r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500) }).toEqual({ what, ok: true });
      if (verb !== 'HEAD') {
        // /v1 paths answer {"error": "..."}; OpenSearch's paths its own shape {"error": {"reason", ...}, "status"}.
        const reason = typeof r.json?.error === 'string' ? r.json.error : r.json?.error?.reason;
        if (r.status >= 400) expect({ what, error: typeof reason, empty: reason === '' }).toEqual({ what, error: 'string', empty: false });
        else if (!where.startsWith('/metrics')) expect({ what, json: r.json !== undefined }).toEqual({ what, json: true });
      }
      expect((await raw(`${base}/health`)).status).toBe(200);
    };
    await fc.assert(fc.asyncProperty(request, check), { seed: SEED, numRuns: 500, interruptAfterTimeLimit: 25_000 });
    // The run reached the guarded code, not only the router: successes, refusals and validation errors.
    for (const status of [200, 400, 401, 403, 404]) expect({ status, count: seen.get(status) ?? 0 }).not.toEqual({ status, count: 0 });
  }, 40_000);

  it('well-formed JSON nested to just under 64 KiB -> 400 on every JSON route', async () => {
    const deep = ['['.repeat(32_000) + ']'.repeat(32_000), '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), `{"password":${'['.repeat(30_000)}${']'.repeat(30_000)}}`];
    for (const [verb, where] of [['POST', '/v1/login'], ['PUT', '/v1/roles/fz_deep'], ['PUT', '/v1/cache/settings'], ['PUT', '/_cluster/settings']] as const) {
      for (const body of deep) {
        const r = await raw(s.nodes[0]!.url + where, { method: verb, headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body });
        const reason = typeof r.json?.error === 'string' ? r.json.error : r.json?.error?.reason;
        expect({ where, status: r.status, error: typeof reason }).toEqual({ where, status: 400, error: 'string' });
      }
    }
    await expectHealthy();
  });

  it('still logs the known user in on every node afterwards', async () => {
    await expectHealthy();
    for (const n of s.nodes) expect((await call(n.url, 'POST', '/v1/login', { json: KNOWN })).status).toBe(200);
  });
});
