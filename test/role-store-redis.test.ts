/**
 * The role-store contract against the Redis store on a real Redis, writing through the real
 * publish script: every write and its invalidation are one atomic step, so the invalidations
 * read back here are the frames the script appended to the log.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { clusterNames, createCodec } from '@authcache/protocol';
import { startRedis, type RedisHandle } from '@authcache/testkit';
import { RedisTransport } from '../packages/node/src/bus/redis-transport';
import { RedisRoleStore } from '../packages/node/src/roles/redis-role-store';
import { describeRoleStore } from '../packages/node/test/support/role-store-contract';
import { silentLog } from '../packages/node/test/fakes';
import { Metrics } from '../packages/node/src/metrics';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => redis?.stop());

describeRoleStore('redis', async () => {
  const names = clusterNames(`rs${randomBytes(4).toString('hex')}`);
  const codec = createCodec('contract-secret');
  const cmd = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  // Connected, though never subscribed: the transport publishes only while its subscriber is up (acks).
  const sub = new Redis(redis.url);
  const subReady = sub.ping();
  const transport = new RedisTransport({ cmd, sub, names, nodeId: 'contract', logMaxLen: 10_000, log: silentLog, metrics: new Metrics() });
  const store = new RedisRoleStore(cmd, names, async (usernames, ops) => {
    const frame = codec.encode({ kind: 'flush_users', id: randomBytes(8).toString('hex'), origin: 'contract', ts: Date.now(), body: { usernames } });
    const { seq } = await transport.publish(frame, ops);
    return { seq, nodes: { total: 1, successful: 1, failed: 0 }, failures: [], members: [{ node: 'contract', result: 'applied' }] };
  });
  // Both answered before a test runs: a test that publishes nothing ends at once, and a PING still
  // in flight when close() disconnects would reject into whichever test runs then.
  await Promise.all([cmd.ping(), subReady]);
  return {
    store,
    invalidations: async () => {
      const seq = Number((await cmd.get(names.seq)) ?? 0);
      if (seq === 0) return [];
      const entries = await transport.readLog(1, seq);
      return entries.map((e) => {
        const d = codec.decode(e.frame);
        if (!d.ok || d.update.kind !== 'flush_users') throw new Error(`unexpected log entry at seq ${e.seq}`);
        return d.update.body.usernames;
      });
    },
    close: async () => {
      cmd.disconnect();
      sub.disconnect();
    },
  };
});
