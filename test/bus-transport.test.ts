/**
 * The Redis transport against a real Redis: the publish script applies every kind of StoreOp in
 * the same atomic step as the publish, refuses the whole step when a guard does not hold, writes
 * the seq where the codec reads it, and the log reads back by seq. Failures are classified by
 * whether the command can have reached Redis.
 */
import { randomBytes } from 'node:crypto';
import { clusterNames, createCodec, readSeq } from '@authcache/protocol';
import { startRedis, type RedisHandle } from '@authcache/testkit';
import { Redis } from './support/faults';
import { createLogger } from '../packages/node/src/log';
import { Metrics } from '../packages/node/src/metrics';
import { RedisTransport, classify } from '../packages/node/src/bus/redis-transport';
import { TransportError } from '../packages/node/src/bus/transport';
import { versionKey } from '../packages/node/src/membership/scripts';

let redis: RedisHandle;
let cmd: Redis;
let sub: Redis;
let probe: Redis;
let transport: RedisTransport;
const names = clusterNames(`t${randomBytes(4).toString('hex')}`);
const codec = createCodec('transport test secret');
const received: Buffer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  cmd = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, commandTimeout: 1000, maxRetriesPerRequest: 0 });
  sub = new Redis(redis.url, { lazyConnect: true });
  probe = new Redis(redis.url);
  await Promise.all([cmd.connect(), sub.connect()]);
  transport = new RedisTransport({ cmd, sub, names, nodeId: 'me', logMaxLen: 100, log: createLogger('silent', 'test'), metrics: new Metrics() });
  await transport.start({ onUpdate: (f) => void received.push(f), onAck: () => undefined, onReconnect: () => undefined });
}, 30_000);

afterAll(async () => {
  await transport?.stop();
  for (const c of [cmd, sub, probe]) c?.disconnect();
  await redis?.stop();
});

const frame = (user: string) => codec.encode({ id: `id-${user}`, origin: 'me', ts: 1, kind: 'flush_users', body: { usernames: [user] } });

it('publishes with every kind of op in one step, and writes the seq into the frame it logs and broadcasts', async () => {
  const h = `${names.cluster}:h`;
  const s = `${names.cluster}:s`;
  const gone = `${names.cluster}:gone`;
  await probe.set(gone, 'x');
  const before = await transport.position();
  const { seq } = await transport.publish(frame('ops'), [
    { op: 'expect', key: h, exists: false },
    { op: 'hset', key: h, fields: { a: '1', b: '2', c: '3' } },
    { op: 'hdel', key: h, fields: ['b'] },
    { op: 'sadd', key: s, members: ['x', 'y'] },
    { op: 'srem', key: s, members: ['x'] },
    { op: 'del', key: gone },
    { op: 'hset', key: h, fields: {} },
  ]);
  expect(seq).toBe(before.seq + 1);
  expect(await probe.hgetall(h)).toEqual({ a: '1', c: '3' });
  expect(await probe.smembers(s)).toEqual(['y']);
  expect(await probe.exists(gone)).toBe(0);
  const [entry] = await transport.readLog(seq, seq);
  expect(entry!.seq).toBe(seq);
  expect(readSeq(entry!.frame)).toBe(seq);
  expect(codec.decode(entry!.frame)).toMatchObject({ ok: true, update: { seq, id: 'id-ops' } });
  for (let i = 0; i < 50 && !received.some((f) => readSeq(f) === seq); i++) await new Promise((r) => setTimeout(r, 20));
  expect(received.find((f) => readSeq(f) === seq)).toEqual(entry!.frame);
});

it('writes nothing and takes no seq when a guard does not hold', async () => {
  const h = `${names.cluster}:guarded`;
  await probe.hset(h, 'f', 'old');
  const before = await transport.position();
  const err = await transport.publish(frame('guarded'), [{ op: 'expect', key: h, exists: false }, { op: 'hset', key: h, fields: { f: 'new' } }]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect([(err as TransportError).failure, (err as TransportError).guardKey]).toEqual(['guard', h]);
  expect(await probe.hget(h, 'f')).toBe('old');
  expect(await transport.position()).toEqual(before);
});

it('answers the members version with the seq, read in the same step (empty when none was ever set)', async () => {
  const key = versionKey(names.members);
  await probe.del(key);
  const none = await transport.publish(frame('v0'), []);
  await probe.set(key, 'v-after-a-join');
  const set = await transport.publish(frame('v1'), []);
  expect([none.membersVersion, set.membersVersion, set.seq]).toEqual(['', 'v-after-a-join', none.seq + 1]);
});

it('reads the log by seq, skipping what is not there', async () => {
  const { seq: a } = await transport.publish(frame('l1'), []);
  const { seq: b } = await transport.publish(frame('l2'), []);
  await probe.xdel(names.log, `${a}-0`);
  expect((await transport.readLog(a, b)).map((e) => e.seq)).toEqual([b]);
  expect(await transport.readLog(b + 1, b)).toEqual([]);
});

it('creates the epoch only when it is missing', async () => {
  const p = await transport.position();
  expect(p.epoch).not.toBe('');
  expect(await transport.position()).toEqual(p);
  await probe.del(names.epoch);
  const q = await transport.position();
  expect(q.epoch).not.toBe(p.epoch);
  expect(q.seq).toBe(p.seq);
});

describe('classify', () => {
  it.each([
    ["Stream isn't writeable and enableOfflineQueue options is false", 'not_applied'],
    ['connect ECONNREFUSED 127.0.0.1:1', 'not_applied'],
    ['Command timed out', 'unknown'],
    ['Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.', 'unknown'],
    ['Connection is closed.', 'unknown'],
  ])('%s -> %s', (message, failure) => {
    expect(classify(new Error(message)).failure).toBe(failure);
  });

  it('takes a refusal by Redis before running anything for not applied', () => {
    const e = Object.assign(new Error('OOM command not allowed when used memory > maxmemory'), { name: 'ReplyError' });
    expect(classify(e).failure).toBe('not_applied');
    const partial = Object.assign(new Error('ERR user_script:12: WRONGTYPE Operation against a key'), { name: 'ReplyError' });
    expect(classify(partial).failure).toBe('unknown');
  });

  it('refuses to publish while not connected, before sending anything', async () => {
    const off = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const t = new RedisTransport({ cmd: off, sub: off, names, nodeId: 'off', logMaxLen: 10, log: createLogger('silent', 'test'), metrics: new Metrics() });
    const err = await t.publish(frame('never'), []).catch((e: unknown) => e);
    expect((err as TransportError).failure).toBe('not_applied');
    off.disconnect();
  });

  it('refuses to publish while its subscriber is not connected (no ack could be heard), writing nothing', async () => {
    const own = clusterNames(`t${randomBytes(4).toString('hex')}`);
    const c = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const s = new Redis(redis.url, { lazyConnect: true });
    await c.connect();
    const t = new RedisTransport({ cmd: c, sub: s, names: own, nodeId: 'deaf', logMaxLen: 10, log: createLogger('silent', 'test'), metrics: new Metrics() });
    try {
      const err = await t.publish(frame('unheard'), []).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).failure).toBe('not_applied');
      expect((err as TransportError).message).toMatch(/subscriber is not connected \(wait\)/);
      expect(await probe.get(own.seq)).toBeNull();
      // Once it is, the same call goes through.
      await s.connect();
      expect((await t.publish(frame('heard'), [])).seq).toBe(1);
    } finally {
      c.disconnect();
      s.disconnect();
    }
  });
});
