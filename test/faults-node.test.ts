/**
 * A node dies (SIGKILL) while roles change, or restarts (SIGTERM) while an admin call is in flight.
 * The live nodes keep the promise at once; the dead one is named as a timeout while its heartbeat is
 * fresh and as down (not waited for) once it is DOWN; when it comes back it refuses the revoked passwords as soon as
 * it reports healthy, and every node ends at the same seq.
 */

import type { Propagation } from '@authcache/client';
import { clusterNames } from '@authcache/protocol';
import { Membership } from '../packages/node/src/membership';
import {
  HEARTBEAT_MS,
  Redis,
  DOWN_AFTER_MS,
  awaitAllMembersUp,
  awaitConvergence,
  awaitMembers,
  checkRevoked,
  expectTimedOut,
  readHealth,
  redisSeq,
  tryLogin,
  useFaultCluster,
  warmAll,
} from './support/faults';
import { waitFor } from '@authcache/testkit';

const fc = useFaultCluster();

it('a SIGKILLed node misses role changes and refuses the revoked passwords as soon as it is healthy again', async () => {
  const [n0, n1, victim] = fc.nodes as [typeof fc.nodes[0], typeof fc.nodes[0], typeof fc.nodes[0]];
  const live = [n0, n1];
  for (const [user, pw] of [['alice', 'alice-1'], ['bob', 'bob-1'], ['carol', 'carol-1']] as const) {
    await fc.clients[0]!.putRole(user, { password: pw, login: true });
  }
  await awaitAllMembersUp(fc);
  await awaitConvergence(fc);
  for (const [user, pw] of [['alice', 'alice-1'], ['bob', 'bob-1'], ['carol', 'carol-1']] as const) await warmAll(fc.nodes, user, pw);

  await victim.kill();
  // Right away, while its last heartbeat is fresh: still a member the calls wait for, and silent.
  const [changed, locked] = await Promise.all([
    fc.clients[0]!.putRole('alice', { password: 'alice-2' }).then((p) => ({ p, at: Date.now() })),
    fc.clients[1]!.putRole('bob', { login: false }).then((p) => ({ p, at: Date.now() })),
  ]);
  expectTimedOut(changed.p, fc.nodes, victim);
  expectTimedOut(locked.p, fc.nodes, victim);
  // The dead node answers nothing at all; the live ones acknowledged, so they refuse from the return on.
  expect((await tryLogin(victim, 'alice', 'alice-1')).status).toBe(0);
  const revokedLive = await checkRevoked(live, [
    { username: 'alice', password: 'alice-1', revokedAt: changed.at },
    { username: 'bob', password: 'bob-1', revokedAt: locked.at },
  ]);
  expect(revokedLive.filter((s) => s.status !== 401)).toEqual([]);

  // Once its heartbeat is stale it is DOWN: calls stop waiting for it, and still name it as down.
  await awaitMembers(fc, 0, [victim.id], 'DOWN', DOWN_AFTER_MS + 3000);
  const p: Propagation = await fc.clients[1]!.putRole('carol', { password: 'carol-2' });
  expect(p.nodes).toEqual({ total: 3, successful: 2, failed: 1 });
  expect(p.failures).toEqual([{ node: victim.id, reason: 'down', last_seen_ms: expect.any(Number) }]);
  expect(p.members.map((m) => m.node)).toEqual([n0.id, n1.id, victim.id]);
  expect(p.members.find((m) => m.node === victim.id)?.result).toBe('failed');
  const carolRevokedAt = Date.now();

  await victim.restart();
  // No waiting here: healthy must already mean "refuses what was revoked while I was dead".
  const [a1, a2, b1, c1, c2, health] = await Promise.all([
    tryLogin(victim, 'alice', 'alice-1'),
    tryLogin(victim, 'alice', 'alice-2'),
    tryLogin(victim, 'bob', 'bob-1'),
    tryLogin(victim, 'carol', 'carol-1'),
    tryLogin(victim, 'carol', 'carol-2'),
    readHealth(victim),
  ]);
  expect([a1.status, a2.status, b1.status, c1.status, c2.status]).toEqual([401, 200, 401, 401, 200]);
  const seq = await redisSeq(fc);
  expect(seq).toBe(p.seq);
  expect(health).toMatchObject({ httpStatus: 200, status: 'UP', applied_seq: seq });
  expect((await Promise.all(live.map(readHealth))).map((h) => h?.applied_seq)).toEqual([seq, seq]);
  await checkRevoked(fc.nodes, [{ username: 'carol', password: 'carol-1', revokedAt: carolRevokedAt }], { afterBound: [401] });
  expect(await awaitConvergence(fc)).toBe(seq);
}, 45_000);

it('a node restarted with SIGTERM while admin calls are in flight answers them and ends at the same seq', async () => {
  const restarted = fc.nodes[2]!;
  await fc.clients[0]!.putRole('dave', { password: 'dave-0', login: true });
  await awaitAllMembersUp(fc);
  await warmAll(fc.nodes, 'dave', 'dave-0');

  // A member that heartbeats (signed, in this process) but never acknowledges holds the next call open
  // for the whole ack timeout, so the call is surely inside the node, waiting, when SIGTERM arrives.
  const conn = new Redis(fc.redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
  conn.on('error', () => undefined);
  await conn.connect();
  const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined };
  const straggler = new Membership({
    redis: conn,
    names: clusterNames(fc.cluster),
    config: { nodeId: 'straggler', heartbeatMs: HEARTBEAT_MS, clusterSecret: fc.secret, memberForgetMs: 600_000 } as never,
    log: quiet as never,
    content: () => ({ address: '127.0.0.1:9', applied_seq: 0, started: 0, cache: {} }),
  });
  await straggler.start();
  await awaitMembers(fc, 2, ['straggler'], 'UP', 5000);
  const seq0 = await redisSeq(fc);
  const inFlight = fc.clients[2]!.putRole('dave', { password: 'dave-1' });
  await waitFor(async () => (await redisSeq(fc)) > seq0, { timeoutMs: 5000, message: 'the call to the restarting node never published' });

  // Meanwhile password changes through the two other nodes, back to back, for as long as the restart
  // takes: some land while it drains, some while it is gone, some while it starts and warms.
  let restarting = true;
  const answers: Propagation[] = [];
  const passwords = ['dave-0', 'dave-1'];
  const stopped = restarted.stop();
  const restart = stopped.then(() => restarted.restart()).finally(() => (restarting = false));
  const writer = (async () => {
    for (let i = 2; restarting || i <= 3; i++) {
      const pw = `dave-${i}`;
      answers.push(await fc.clients[i % 2]!.putRole('dave', { password: pw }));
      passwords.push(pw);
      // Pacing of the load, not a synchronisation: keeps the number of passwords to check small.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const [drained] = await Promise.all([inFlight, writer, restart]);
  await straggler.stop();
  conn.disconnect();

  // SIGTERM drains in-flight requests: the call got its full answer, only the straggler missing.
  expect(drained.seq).toBe(seq0 + 1);
  expect(drained.failures).toEqual([{ node: 'straggler', reason: 'timeout' }]);
  expect(drained.members.find((m) => m.node === restarted.id)).toEqual({ node: restarted.id, result: 'applied' });
  expect(answers.length).toBeGreaterThanOrEqual(2);
  for (const a of answers) {
    // A partial answer names a silent member, only as a timeout; never an error.
    expect(a.nodes.failed).toBe(a.failures.length);
    for (const f of a.failures) expect([restarted.id, 'straggler']).toContain(f.node);
    for (const f of a.failures) expect(f.reason).toBe('timeout');
    expect(a.nodes.total).toBeGreaterThanOrEqual(2);
  }
  const seq = await awaitConvergence(fc);
  expect(seq).toBe(Math.max(...answers.map((a) => a.seq)));
  const current = passwords[passwords.length - 1]!;
  // The first ones (set around the SIGTERM) and the last ones (set around the restart).
  const replaced = [...new Set([...passwords.slice(0, 6), ...passwords.slice(-11, -1)])].filter((pw) => pw !== current);
  for (const node of fc.nodes) {
    expect((await tryLogin(node, 'dave', current)).status).toBe(200);
    const stale = await Promise.all(replaced.map((pw) => tryLogin(node, 'dave', pw)));
    expect(stale.map((x) => x.status)).toEqual(replaced.map(() => 401));
  }
  // Last, so that a slow exit does not hide the convergence results above: SIGTERM means drain the
  // in-flight requests, leave, and exit 0 (not a forced exit after the grace period).
  expect(await stopped).toBe(0);
}, 45_000);
