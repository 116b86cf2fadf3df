import {
  AuthcacheClient,
  ConnectionError,
  HttpError,
  InvalidCredentialsError,
  UnavailableError,
} from '@authcache/client';
import { type FakeNode, closedPortUrl, startFakeNode } from './fake-node';

const loginOk = { username: 'alice', roles: ['r'], superuser: false, cached: false, node: 'n' };

describe('failover', () => {
  const started: FakeNode[] = [];
  const node = async (...args: Parameters<typeof startFakeNode>) => {
    const n = await startFakeNode(...args);
    started.push(n);
    return n;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.close()));
  });

  test('a closed port is skipped for the next node', async () => {
    const dead = await closedPortUrl();
    const live = await node(() => ({ status: 200, body: loginOk }));
    const client = new AuthcacheClient({ nodes: [dead, live.url] });
    await expect(client.login('alice', 'pw')).resolves.toEqual(loginOk);
    expect(live.requests).toHaveLength(1);
  });

  test('a 503 is skipped for the next node', async () => {
    const sick = await node(() => ({ status: 503, body: { error: 'out of sync' } }));
    const live = await node(() => ({ status: 200, body: loginOk }));
    const client = new AuthcacheClient({ nodes: [sick.url, live.url] });
    await expect(client.login('alice', 'pw')).resolves.toEqual(loginOk);
    expect(sick.requests).toHaveLength(1);
    expect(live.requests).toHaveLength(1);
  });

  test('a reset connection is skipped for the next node', async () => {
    const flaky = await node(() => 'reset');
    const live = await node(() => ({ status: 200, body: loginOk }));
    const client = new AuthcacheClient({ nodes: [flaky.url, live.url] });
    await expect(client.login('alice', 'pw')).resolves.toEqual(loginOk);
    expect(flaky.requests).toHaveLength(1);
  });

  test('an unresolvable host is skipped for the next node', async () => {
    const live = await node(() => ({ status: 200, body: loginOk }));
    const client = new AuthcacheClient({ nodes: ['http://no-such-node.invalid:7070', live.url], timeoutMs: 2000 });
    await expect(client.login('alice', 'pw')).resolves.toEqual(loginOk);
  });

  test('a node that never answers times out, then the next one answers, within a bound', async () => {
    const stuck = await node(() => 'hang');
    const live = await node(() => ({ status: 200, body: loginOk }));
    const client = new AuthcacheClient({ nodes: [stuck.url, live.url], timeoutMs: 300 });
    const t0 = Date.now();
    await expect(client.login('alice', 'pw')).resolves.toEqual(loginOk);
    const elapsed = Date.now() - t0;
    expect(stuck.requests).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
  });

  test('every node timing out ends in a ConnectionError naming each timeout', async () => {
    const a = await node(() => 'hang');
    const b = await node(() => 'hang');
    const client = new AuthcacheClient({ nodes: [a.url, b.url], timeoutMs: 200 });
    const err = await client.nodes().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).attempts).toEqual([
      { node: a.url, error: 'timeout after 200ms' },
      { node: b.url, error: 'timeout after 200ms' },
    ]);
  });

  test('no failover on 401: InvalidCredentialsError and the second node is never asked', async () => {
    const refusing = await node(() => ({ status: 401, body: { error: 'invalid credentials' } }));
    const other = await node(() => ({ status: 200, body: loginOk }));
    const client = new AuthcacheClient({ nodes: [refusing.url, other.url] });
    const err = await client.login('alice', 'wrong').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect((err as InvalidCredentialsError).node).toBe(refusing.url);
    expect(other.requests).toHaveLength(0);
  });

  test('no failover on other 4xx nor on 500', async () => {
    for (const status of [400, 403, 404, 429, 500]) {
      const first = await node(() => ({ status, body: { error: `e${status}` } }));
      const second = await node(() => ({ status: 200, body: [] }));
      const client = new AuthcacheClient({ nodes: [first.url, second.url] });
      const err = await client.listRoles().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(status);
      expect(second.requests).toHaveLength(0);
    }
  });

  test('every node answering 503 throws the last UnavailableError', async () => {
    const a = await node(() => ({ status: 503, body: { error: 'a is starting' } }));
    const b = await node(() => ({ status: 503, body: { error: 'b is degraded' } }));
    const client = new AuthcacheClient({ nodes: [a.url, b.url] });
    const err = await client.flushAll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).node).toBe(b.url);
    expect((err as UnavailableError).message).toBe('b is degraded');
  });

  test('a mix of closed ports and 503s is a ConnectionError listing both, each node once', async () => {
    const dead = await closedPortUrl();
    const sick = await node(() => ({ status: 503, body: { error: 'out of sync' } }));
    const client = new AuthcacheClient({ nodes: [dead, sick.url] });
    const err = await client.flushAll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    const attempts = (err as ConnectionError).attempts;
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ node: dead });
    expect(attempts[0]!.error).toMatch(/ECONNREFUSED/);
    expect(attempts[0]!.status).toBeUndefined();
    expect(attempts[1]).toEqual({ node: sick.url, error: 'out of sync', status: 503 });
    expect(sick.requests).toHaveLength(1);
  });

  test('every node down: ConnectionError with one attempt per node', async () => {
    const a = await closedPortUrl();
    const b = await closedPortUrl();
    const client = new AuthcacheClient({ nodes: [a, b] });
    const err = await client.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).attempts.map((x) => x.node)).toEqual([a, b]);
    expect((err as ConnectionError).message).toContain(a);
  });

  test('round robin: each call starts one node further on', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => node(() => ({ status: 200, body: [{ name: id }] }))));
    const client = new AuthcacheClient({ nodes: nodes.map((n) => n.url) });
    const answeredBy: string[] = [];
    for (let i = 0; i < 6; i++) answeredBy.push((await client.listRoles())[0]!.name);
    expect(answeredBy).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('round robin keeps turning when a node is down', async () => {
    const dead = await closedPortUrl();
    const b = await node(() => ({ status: 200, body: [] }));
    const c = await node(() => ({ status: 200, body: [] }));
    const client = new AuthcacheClient({ nodes: [dead, b.url, c.url] });
    // starts: dead(->b), b, c, dead(->b)
    for (let i = 0; i < 4; i++) await client.listRoles();
    expect(b.requests).toHaveLength(3);
    expect(c.requests).toHaveLength(1);
  });
});
