/**
 * The HTTP surface at its edges, against a real node: bad requests get the right status and a
 * {"error"} body without internals (call() checks every body for a stack trace), and the node keeps
 * serving afterwards. Then OpenSearch's documented curl commands, run with the real curl.
 */

import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { LIMITS } from '@authcache/protocol';
import { promisify } from 'node:util';
import { ALL_OK, call, STACK_TRACE, useCluster } from './support';

const run = promisify(execFile);
const s = useCluster();
const url = () => s.nodes[0]!.url;

function expectError(r: { status: number; json: any }, status: number) {
  expect(r.status).toBe(status);
  // /v1 paths answer {"error": "..."}; OpenSearch's paths its own shape {"error": {"reason", ...}, "status"}.
  const reason = typeof r.json.error === 'string' ? r.json.error : r.json.error?.reason;
  expect(reason.length).toBeGreaterThan(0);
}

beforeAll(async () => {
  await s.clients[0]!.putRole('john_doe', { password: 'john-pw', login: true });
});

describe('bad requests', () => {
  it('malformed JSON -> 400', async () => {
    for (const body of ['{"username": "john_doe", "password":', '{not json}', '[1,2', '"unterminated']) {
      expectError(await call(url(), 'POST', '/v1/login', { body, contentType: 'application/json' }), 400);
    }
    expectError(await call(url(), 'PUT', '/v1/roles/x', { token: s.token, body: '{"login": tru', contentType: 'application/json' }), 400);
    expectError(await call(url(), 'PUT', '/_cluster/settings', { token: s.token, body: '{', contentType: 'application/json' }), 400);
  });

  it('a 70 KiB body -> 413', async () => {
    const big = JSON.stringify({ username: 'john_doe', password: 'x'.repeat(70 * 1024) });
    expectError(await call(url(), 'POST', '/v1/login', { body: big, contentType: 'application/json' }), 413);
    expectError(await call(url(), 'PUT', '/v1/roles/big', { token: s.token, body: big, contentType: 'application/json' }), 413);
  });

  it('text/plain on POST /v1/login -> 415', async () => {
    const body = JSON.stringify({ username: 'john_doe', password: 'john-pw' });
    expectError(await call(url(), 'POST', '/v1/login', { body, contentType: 'text/plain' }), 415);
    expectError(await call(url(), 'POST', '/v1/login', { body: 'username=john_doe&password=john-pw', contentType: 'application/x-www-form-urlencoded' }), 415);
  });

  it('missing or empty fields -> 400', async () => {
    for (const json of [{}, { username: 'john_doe' }, { password: 'john-pw' }, { username: '', password: 'john-pw' }, { username: 'john_doe', password: 42 }]) {
      expectError(await call(url(), 'POST', '/v1/login', { json }), 400);
    }
    // No body at all.
    expectError(await call(url(), 'POST', '/v1/login', { contentType: 'application/json' }), 400);
    expectError(await call(url(), 'PUT', '/_cluster/settings', { token: s.token, json: {} }), 400);
    expectError(await call(url(), 'PUT', '/v1/cache/settings', { token: s.token, json: { cache: 'nope', ttl_ms: 5 } }), 400);
  });

  it('unknown route -> 404', async () => {
    expectError(await call(url(), 'GET', '/v1/nope'), 404);
    expectError(await call(url(), 'DELETE', '/_plugins/_security/api/nothing', { token: s.token }), 404);
    expectError(await call(url(), 'GET', '/v1/roles/nobody-of-that-name', { token: s.token }), 404);
  });

  it('wrong method -> 405 with Allow', async () => {
    const r = await call(url(), 'GET', '/v1/login');
    expectError(r, 405);
    expect(r.headers.get('allow')).toContain('POST');
    expectError(await call(url(), 'POST', '/health'), 405);
    expectError(await call(url(), 'PATCH', '/v1/roles/john_doe', { token: s.token, json: { login: false } }), 405);
    expectError(await call(url(), 'PUT', '/v1/cache', { token: s.token }), 405);
  });

  it('admin route without a token -> 401, with a wrong token -> 403', async () => {
    const routes: Array<[string, string, unknown]> = [
      ['GET', '/v1/roles', undefined],
      ['DELETE', '/v1/cache', undefined],
      ['DELETE', '/_plugins/_security/api/cache/user/john_doe', undefined],
      ['PUT', '/_cluster/settings', { transient: { 'plugins.security.cache.ttl_minutes': '5' } }],
      ['PUT', '/v1/roles/john_doe', { login: false }],
      ['GET', '/v1/cluster/nodes', undefined],
    ];
    for (const [method, path, json] of routes) {
      expectError(await call(url(), method, path, { json }), 401);
      expectError(await call(url(), method, path, { json, token: 'not-the-token' }), 403);
      // Basic credentials that do not log in (john:john) are no credentials at all: 401, as a wrong password anywhere.
      expectError(await call(url(), method, path, { json, headers: { authorization: 'Basic am9objpqb2hu' } }), 401);
    }
    // Refused calls changed nothing: john_doe can still log in, and the TTL is the default.
    expect((await s.clients[0]!.login('john_doe', 'john-pw')).username).toBe('john_doe');
    expect((await s.clients[0]!.getSettings()).transient).toEqual({});
  });

  it('the token is checked before the body: a bad body without a token is 401, with a wrong token 403', async () => {
    // Otherwise anyone can probe the admin API's schemas without credentials.
    const bad: Array<[string, string, string | undefined]> = [
      ['PUT', '/_cluster/settings', undefined],
      ['PUT', '/_cluster/settings', '{"transient": 5}'],
      ['PUT', '/v1/roles/x', '{"bogus": 1}'],
      ['PUT', '/v1/cache/settings', '{"cache": "nope"}'],
    ];
    const seen = [];
    for (const [method, path, body] of bad) {
      const none = await call(url(), method, path, { body, contentType: 'application/json' });
      const wrong = await call(url(), method, path, { body, contentType: 'application/json', token: 'not-the-token' });
      seen.push({ method, path, body, statuses: [none.status, wrong.status] });
    }
    expect(seen).toEqual(bad.map(([method, path, body]) => ({ method, path, body, statuses: [401, 403] })));
  });

  it('DELETE with Content-Type: application/json and no body -> 200 (as in the OpenSearch curl examples)', async () => {
    for (const path of ['/_plugins/_security/api/cache', '/v1/cache', '/_plugins/_security/api/cache/user/john_doe', '/v1/cache/users/john_doe']) {
      const r = await call(url(), 'DELETE', path, { token: s.token, contentType: 'application/json' });
      expect({ path, status: r.status, nodes: r.json?.nodes }).toEqual({ path, status: 200, nodes: ALL_OK });
    }
  });

  it('odd requests get a 4xx {"error"} and nothing of the internals', async () => {
    const odd: Array<[string, string]> = [
      ['DELETE', '/v1/cache/users/%E0%A4%A'],
      ['DELETE', '/v1/cache?local=maybe'],
      ['DELETE', '/v1/cache?caches=passwords'],
      ['GET', `/v1/roles/${'r'.repeat(300)}`],
      ['PUT', '/v1/roles/%2e%2e'],
    ];
    const seen = [];
    for (const [method, path] of odd) {
      const r = await call(url(), method, path, { token: s.token, json: method === 'PUT' ? { login: 'yes' } : undefined });
      seen.push({ method, path, fourxx: r.status >= 400 && r.status < 500, error: typeof r.json?.error });
    }
    expect(seen).toEqual(odd.map(([method, path]) => ({ method, path, fourxx: true, error: 'string' })));
  });

  it('names up to the limit work in paths, however they are encoded; longer ones are a 400, not a wrong 405', async () => {
    // 150 ASCII characters, and the limit in 3-byte UTF-8 characters (9 characters each once percent-encoded).
    for (const name of ['n'.repeat(150), '\u20ac'.repeat(LIMITS.username)]) {
      const put = await call(url(), 'PUT', `/v1/roles/${encodeURIComponent(name)}`, { token: s.token, json: { login: true, password: 'long-name-pw' } });
      expect(put.status).toBe(201);
      const got = await call(url(), 'GET', `/v1/roles/${encodeURIComponent(name)}`, { token: s.token });
      expect({ status: got.status, name: got.json.name }).toEqual({ status: 200, name });
      const flush = await call(url(), 'DELETE', `/v1/cache/users/${encodeURIComponent(name)}`, { token: s.token });
      expect(flush.status).toBe(200);
      expect((await call(url(), 'DELETE', `/v1/roles/${encodeURIComponent(name)}`, { token: s.token })).status).toBe(200);
    }
    expectError(await call(url(), 'GET', `/v1/roles/${'r'.repeat(LIMITS.username + 1)}`, { token: s.token }), 400);
  });

  it('a name with a control character is refused where it would name a role, a user to flush or a grant (the caches key names with NUL)', async () => {
    for (const name of ['bob\u0000admin', 'line\nbreak', 'tab\there', 'del\u007f']) {
      const path = encodeURIComponent(name);
      expectError(await call(url(), 'PUT', `/v1/roles/${path}`, { token: s.token, json: { login: true, password: 'x-pw-long' } }), 400);
      expectError(await call(url(), 'PUT', '/v1/roles/clean_name', { token: s.token, json: { roles: [name] } }), 400);
      expectError(await call(url(), 'DELETE', `/v1/cache/users/${path}`, { token: s.token }), 400);
    }
    expect((await call(url(), 'GET', '/v1/roles/clean_name', { token: s.token })).status).toBe(404);
  });

  it('a client trickling its body in is cut off once LIMITS.requestMs has passed (408, connection closed)', async () => {
    const u = new URL(url());
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.on('error', () => undefined);
    const t0 = Date.now();
    socket.write('POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    // One byte a second: never idle long enough for an idle timeout, never done.
    const drip = setInterval(() => socket.writable && socket.write(' '), 1000);
    try {
      const at = await Promise.race([closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('the node kept the trickling connection open')), LIMITS.requestMs + 10_000))]);
      expect(at - t0).toBeGreaterThanOrEqual(LIMITS.requestMs - 500);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  }, LIMITS.requestMs + 20_000);

  it('the node keeps serving after all of these', async () => {
    const health = await call(url(), 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.json.status).toBe('UP');
    const login = await call(url(), 'POST', '/v1/login', { json: { username: 'john_doe', password: 'john-pw' } });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ username: 'john_doe', node: s.nodes[0]!.id });
    // Still the process we started, not one that crashed and left the port to someone else.
    let exited = false;
    void s.nodes[0]!.exited.then(() => (exited = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(exited).toBe(false);
  });
});

describe('the OpenSearch Security curl examples, with a bearer token', () => {
  /** Runs the command line through sh as an operator would paste it; $NODE and $TOKEN come from the environment. */
  async function curl(commandLine: string): Promise<{ status: number; body: any; text: string }> {
    const { stdout } = await run('sh', ['-c', `${commandLine} -sS -w '\\n%{http_code}'`], {
      env: { PATH: process.env.PATH, NODE: s.nodes[1]!.url, TOKEN: s.token },
      timeout: 15_000,
    });
    const cut = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, cut);
    expect(text).not.toMatch(STACK_TRACE);
    return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(text), text };
  }

  it('DELETE /_plugins/_security/api/cache', async () => {
    const r = await curl(`curl -X DELETE "$NODE/_plugins/_security/api/cache" -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN"`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ message: 'Cache flushed successfully.', nodes: ALL_OK, failures: [] });
  });

  it('DELETE /_plugins/_security/api/cache/user/john_doe', async () => {
    const r = await curl(`curl -X DELETE "$NODE/_plugins/_security/api/cache/user/john_doe" -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN"`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ message: 'Cache invalidated for user: john_doe', nodes: ALL_OK, failures: [] });
  });

  it('PUT /_cluster/settings with a transient ttl_minutes of 1440', async () => {
    const r = await curl(
      `curl -X PUT "$NODE/_cluster/settings" -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" -d '{"transient": {"plugins.security.cache.ttl_minutes": "1440"}}'`,
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      acknowledged: true,
      persistent: {},
      transient: { plugins: { security: { cache: { ttl_minutes: '1440' } } } },
      nodes: ALL_OK,
    });
    for (const c of s.clients) {
      const v = await c.getSettings();
      expect([v.settings.credentials.ttl_ms, v.settings.roles.ttl_ms]).toEqual([86_400_000, 86_400_000]);
    }
  });

  it('GET /_plugins/_security/health', async () => {
    const r = await curl(`curl -X GET "$NODE/_plugins/_security/health" -H "Authorization: Bearer $TOKEN"`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'UP', node: s.nodes[1]!.id, cluster: s.cluster.cluster });
  });
});
