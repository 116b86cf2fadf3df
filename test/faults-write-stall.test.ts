/**
 * Redis stalls writes (`CLIENT PAUSE ... WRITE`, what its own FAILOVER does): a flush sent meanwhile
 * gets no reply within the command timeout, so its node cannot know whether it was applied. The
 * answer must say so (504 outcome unknown), never "not applied" — and once the stall ends Redis
 * runs the queued publish: the flush is applied on every node.
 */
import { waitFor } from '@authcache/testkit';
import { awaitConvergence, redisSeq, tryLogin, useFaultCluster, warmAll, withRedis } from './support/faults';

const fc = useFaultCluster({ size: 3 });

it('a flush during a write stall answers 504 outcome unknown, and is applied on every node once the stall ends', async () => {
  await fc.clients[0]!.putRole('stalled', { password: 'stalled-pw', login: true });
  await awaitConvergence(fc);
  await warmAll(fc.nodes, 'stalled', 'stalled-pw');
  const seqBefore = await redisSeq(fc);

  await withRedis(fc.redis.url, (r) => r.call('CLIENT', 'PAUSE', '3000', 'WRITE'));
  const res = await fetch(`${fc.nodes[1]!.url}/v1/cache`, { method: 'DELETE', headers: { authorization: `Bearer ${fc.token}` } });
  const body = (await res.json()) as { error?: string };
  expect([res.status, body.error]).toEqual([504, expect.stringMatching(/^outcome unknown: the change may have been applied; /)]);

  // Redis runs the queued script after the pause: one seq, published, applied by everyone.
  await waitFor(async () => (await redisSeq(fc)) === seqBefore + 1, { timeoutMs: 10_000, intervalMs: 50, message: 'the stalled flush never got its seq' });
  expect(await awaitConvergence(fc)).toBe(seqBefore + 1);
  const after = await Promise.all(fc.nodes.map((n) => tryLogin(n, 'stalled', 'stalled-pw')));
  expect(after.map((s) => [s.status, s.cached])).toEqual(fc.nodes.map(() => [200, false]));
}, 45_000);

/**
 * The role PUT reads the roles before its script, on the same connection as the node's heartbeat
 * writes: when a heartbeat write is paused ahead of that read, the read times out before anything is
 * sent, and the honest answer is 503 (not applied). Both answers are checked for what they claim;
 * the 504 path (the one issue 11.1 is about) must be seen, so the stall is tried up to 4 times.
 */
it('a password change during a write stall answers 504 outcome unknown; once the stall ends the new password is stored AND the old one refused everywhere', async () => {
  const outcomes: string[] = [];
  for (let attempt = 0; attempt < 4; attempt++) {
    const user = `rotated${attempt}`;
    await fc.clients[0]!.putRole(user, { password: `${user}-old`, login: true });
    await awaitConvergence(fc);
    await warmAll(fc.nodes, user, `${user}-old`);
    const seqBefore = await redisSeq(fc);

    await withRedis(fc.redis.url, (r) => r.call('CLIENT', 'PAUSE', '3000', 'WRITE'));
    const res = await fetch(`${fc.nodes[2]!.url}/v1/roles/${user}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fc.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ password: `${user}-new` }),
    });
    const body = (await res.json()) as { error?: string };
    outcomes.push(`${res.status} ${body.error ?? ''}`);
    if (res.status === 503) {
      // Not applied, as it says: after the stall nothing moved, and the old password still holds.
      expect(body.error).toMatch(/^role store unreachable: /);
      await withRedis(fc.redis.url, (r) => r.call('CLIENT', 'UNPAUSE'));
      expect(await awaitConvergence(fc)).toBe(seqBefore);
      const still = await Promise.all(fc.nodes.map((n) => tryLogin(n, user, `${user}-old`)));
      expect(still.map((l) => l.status)).toEqual(fc.nodes.map(() => 200));
      continue;
    }
    expect([res.status, body.error]).toEqual([504, expect.stringMatching(/^outcome unknown: /)]);

    // The write and its invalidation were one script: when the write lands, so does the invalidation.
    await waitFor(async () => (await redisSeq(fc)) === seqBefore + 1, { timeoutMs: 10_000, intervalMs: 50, message: 'the stalled role write never got its seq' });
    expect(await awaitConvergence(fc)).toBe(seqBefore + 1);
    const [oldPw, newPw] = await Promise.all([
      Promise.all(fc.nodes.map((n) => tryLogin(n, user, `${user}-old`))),
      Promise.all(fc.nodes.map((n) => tryLogin(n, user, `${user}-new`))),
    ]);
    expect(oldPw.map((l) => l.status)).toEqual(fc.nodes.map(() => 401));
    expect(newPw.map((l) => l.status)).toEqual(fc.nodes.map(() => 200));
    return;
  }
  throw new Error(`the stall never caught the write itself (answers: ${outcomes.join('; ')})`);
}, 90_000);
