/**
 * Secrets never reach logs or responses. A 3-node cluster logs at debug level while the suite
 * does everything that handles a secret (logins right and wrong, throttled ones, password
 * changes, bearer and Basic admin calls, settings, refused requests carrying a password); then
 * every node's captured output and every answer is searched for each password, each bcrypt hash
 * (read from Redis), the admin token, the cluster secret and the base64 of Basic credentials.
 * The secret and token come from files (*_FILE), which also shows that those variables work.
 */

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, useCluster, waitFor, type Reply, type RequestOptions } from './support';
import { basic, basic64, closeRedis, connectRedis, logLines, tempDir } from './support/security';

const files = tempDir('authcache-secrets-');
const fileSecret = `file-secret-${randomBytes(16).toString('hex')}`;
const fileToken = `file-token-${randomBytes(16).toString('hex')}`;
writeFileSync(join(files.dir, 'secret'), `${fileSecret}\n`);
writeFileSync(join(files.dir, 'token'), `${fileToken}\n`);

const s = useCluster({
  env: {
    LOG_LEVEL: 'debug',
    AUTHCACHE_CLUSTER_SECRET_FILE: join(files.dir, 'secret'),
    AUTHCACHE_ADMIN_TOKEN_FILE: join(files.dir, 'token'),
    AUTHCACHE_LOGIN_MAX_FAILURES: '3',
  },
});
afterAll(() => files.remove());

const rnd = () => randomBytes(9).toString('hex');
const pw = {
  alice1: `alice-first-${rnd()}`,
  alice2: `alice-second-${rnd()}`,
  root: `root-pw-${rnd()}`,
  // Characters that JSON and logs escape: searched for raw and escaped.
  carol: `c@r:ol/"quoted"\\back-${rnd()}`,
  wrong1: `wrong-one-${rnd()}`,
  wrong2: `wrong-two-${rnd()}`,
  throttled: `throttled-guess-${rnd()}`,
  wrongToken: `${fileToken.slice(0, -4)}beef`,
};
const hashes = new Set<string>();
const answers: Reply[] = [];

/** call() that keeps every answer for the final search. */
async function req(node: number, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const r = await call(s.nodes[node]!.url, method, path, opts);
  answers.push(r);
  return r;
}
const admin = (node: number, method: string, path: string, json?: unknown) => req(node, method, path, { token: fileToken, json });
const login = (node: number, username: string, password: string) => req(node, 'POST', '/v1/login', { json: { username, password } });
const everyNode = <T>(f: (i: number) => Promise<T>) => Promise.all(s.nodes.map((_, i) => f(i)));

async function readHash(role: string): Promise<void> {
  const redis = await connectRedis(s.redis.url);
  try {
    const h = await redis.hget(`${s.cluster.cluster}:role:${role}`, 'salted_hash');
    expect(h).toMatch(/^\$2[aby]\$\d\d\$/);
    hashes.add(h!);
  } finally {
    closeRedis(redis);
  }
}

describe('a cluster at debug level doing everything that handles a secret', () => {
  it('takes its secret and token from files: the file token is accepted, the environment one is not', async () => {
    expect((await admin(0, 'GET', '/v1/roles')).status).toBe(200);
    expect((await req(0, 'GET', '/v1/roles', { token: s.token })).status).toBe(403);
  });

  it('creates roles and changes a password', async () => {
    expect((await admin(0, 'PUT', '/v1/roles/alice', { password: pw.alice1, login: true })).status).toBe(201);
    expect((await admin(1, 'PUT', '/v1/roles/root', { password: pw.root, login: true, superuser: true })).status).toBe(201);
    expect((await admin(2, 'PUT', '/v1/roles/carol', { password: pw.carol, login: true })).status).toBe(201);
    expect((await admin(0, 'PUT', '/v1/roles/throttled_user', { password: `tu-${rnd()}`, login: true })).status).toBe(201);
    for (const r of ['alice', 'root', 'carol']) await readHash(r);
    await everyNode((i) => login(i, 'alice', pw.alice1));

    const changed = await admin(1, 'PUT', '/v1/roles/alice', { password: pw.alice2 });
    expect(changed.status).toBe(200);
    expect(changed.json.nodes).toEqual({ total: 3, successful: 3, failed: 0 });
    await readHash('alice');
    expect(hashes.size).toBe(4);
  });

  it('logs in right, wrong, cached and throttled on every node', async () => {
    for (let round = 0; round < 2; round++) {
      expect(await everyNode(async (i) => (await login(i, 'alice', pw.alice2)).status)).toEqual([200, 200, 200]);
      expect(await everyNode(async (i) => (await login(i, 'carol', pw.carol)).status)).toEqual([200, 200, 200]);
    }
    expect(await everyNode(async (i) => (await login(i, 'alice', pw.alice1)).status)).toEqual([401, 401, 401]);
    expect(await everyNode(async (i) => (await login(i, 'root', pw.wrong1)).status)).toEqual([401, 401, 401]);
    expect(await everyNode(async (i) => (await login(i, 'nobody', pw.wrong2)).status)).toEqual([401, 401, 401]);
    const throttled: number[] = [];
    for (let k = 0; k < 4; k++) throttled.push((await login(0, 'throttled_user', pw.throttled)).status);
    expect(throttled).toEqual([401, 401, 401, 429]);
    const info = await req(2, 'GET', '/_plugins/_security/authinfo', { headers: { authorization: basic('carol', pw.carol) } });
    expect(info.status).toBe(200);
  });

  it('calls the admin API with the token, a wrong token, Basic of a superuser and a wrong Basic password', async () => {
    expect((await admin(0, 'DELETE', '/v1/cache')).status).toBe(200);
    expect((await admin(1, 'DELETE', '/v1/cache/users/alice')).status).toBe(200);
    expect((await req(2, 'GET', '/v1/roles', { token: pw.wrongToken })).status).toBe(403);
    const root = { authorization: basic('root', pw.root) };
    expect((await req(0, 'GET', '/v1/roles', { headers: root })).status).toBe(200);
    expect((await req(1, 'DELETE', '/_plugins/_security/api/cache/user/carol', { headers: root })).status).toBe(200);
    expect((await req(2, 'GET', '/v1/roles', { headers: { authorization: basic('root', pw.wrong1) } })).status).toBe(401);
  });

  it('changes settings, transient and persistent', async () => {
    expect((await admin(0, 'PUT', '/v1/cache/settings', { ttl_ms: 600_000 })).status).toBe(200);
    expect((await admin(1, 'PUT', '/v1/cache/settings', { cache: 'roles', max_entries: 5000, persistent: true })).status).toBe(200);
    expect((await admin(2, 'PUT', '/_cluster/settings', { transient: { 'plugins.security.cache.ttl_minutes': '30' } })).status).toBe(200);
    expect((await admin(0, 'PUT', '/_cluster/settings', { persistent: { 'plugins.security.cache.ttl_minutes': '45' } })).status).toBe(200);
    expect((await admin(1, 'GET', '/v1/cache/settings')).status).toBe(200);
    expect((await admin(2, 'GET', '/_cluster/settings')).status).toBe(200);
  });

  it('refuses requests that carry a password (400, 413) without echoing it', async () => {
    const json = 'application/json';
    expect((await req(0, 'POST', '/v1/login', { body: `{"username":"alice","password":"${pw.alice2}"`, contentType: json })).status).toBe(400);
    expect((await req(1, 'POST', '/v1/login', { json: { username: 'alice', password: pw.alice2, extra: pw.alice2 } })).status).toBe(400);
    expect((await req(2, 'POST', '/v1/login', { json: { username: 'alice', password: pw.alice2.repeat(40) } })).status).toBe(400);
    expect((await req(0, 'POST', '/v1/login', { json: { username: 'alice', password: pw.alice2, pad: 'x'.repeat(70 * 1024) } })).status).toBe(413);
    expect((await admin(1, 'PUT', '/v1/roles/alice', { password: pw.alice2, login: 'yes' })).status).toBe(400);
    expect((await req(2, 'POST', '/v1/login', { body: JSON.stringify({ username: 'alice', password: pw.alice2 }), contentType: 'text/plain' })).status).toBe(415);
    // Each refusal has its line, naming the route and the status (the caller's text stays out: the search below).
    const refused = (i: number) => logLines(s.nodes[i]!.logs()).filter((l) => l.msg === 'request refused');
    await waitFor(() => refused(0).some((l) => l.status === 400 && l.route === '/v1/login') && refused(0).some((l) => l.status === 413), { timeoutMs: 5000, message: 'node 0 logged no "request refused" for the 400 and the 413' });
    await waitFor(() => refused(1).some((l) => l.status === 400 && l.route === '/v1/roles/:name'), { timeoutMs: 5000, message: 'node 1 logged no "request refused" for the invalid role body' });
  });

  it('answers role reads without any hash', async () => {
    const list = await admin(0, 'GET', '/v1/roles');
    expect(list.status).toBe(200);
    const one = await admin(1, 'GET', '/v1/roles/alice');
    expect(one.status).toBe(200);
    const keys = ['has_password', 'login', 'name', 'roles', 'superuser'];
    for (const role of [...list.json, one.json]) expect(Object.keys(role).sort()).toEqual(keys);
    for (const r of [list, one]) expect(r.text).not.toMatch(/\$2[aby]\$\d\d\$|salted_hash/);
  });

  it('leaves no secret in any answer or any node log', async () => {
    // Scrapes and health answers are searched too.
    await everyNode((i) => req(i, 'GET', '/metrics'));
    await everyNode((i) => req(i, 'GET', '/health'));
    await everyNode((i) => admin(i, 'GET', '/v1/cluster/nodes'));

    // Stopping flushes everything the nodes had to say, shutdown included.
    await s.cluster.stop();
    for (const n of s.nodes) {
      await waitFor(() => logLines(n.logs()).some((l) => l.msg === 'stopped'), { timeoutMs: 5000, message: `${n.id} never logged "stopped"` });
    }

    const secrets = new Map<string, string>();
    for (const [name, p] of Object.entries(pw)) {
      secrets.set(`password ${name}`, p);
      secrets.set(`password ${name}, JSON-escaped`, JSON.stringify(p).slice(1, -1));
    }
    let i = 0;
    for (const h of hashes) {
      i++;
      secrets.set(`hash ${i}`, h);
      secrets.set(`hash ${i} salt`, h.slice(7, 29));
      secrets.set(`hash ${i} checksum`, h.slice(-31));
    }
    secrets.set('admin token (file)', fileToken);
    secrets.set('admin token (environment, unused)', s.token);
    secrets.set('cluster secret (file)', fileSecret);
    secrets.set('cluster secret (environment, unused)', s.cluster.secret);
    for (const [u, p] of [['root', pw.root], ['root', pw.wrong1], ['carol', pw.carol]] as const) secrets.set(`Basic ${u}`, basic64(u, p));

    const leaks: string[] = [];
    for (const n of s.nodes) {
      const text = n.logs();
      for (const [name, value] of secrets) if (text.includes(value)) leaks.push(`${name} in the log of ${n.id}`);
    }
    for (const r of answers) {
      for (const [name, value] of secrets) if (r.text.includes(value)) leaks.push(`${name} in an answer: ${r.text.slice(0, 200)}`);
    }
    expect(leaks).toEqual([]);

    // The search looked at real debug output, not at an empty capture.
    for (const n of s.nodes) {
      const lines = logLines(n.logs());
      expect(lines.filter((l) => l.level === 20).length).toBeGreaterThan(0);
      expect(lines.some((l) => l.msg === 'update applied')).toBe(true);
    }
    // ...and the same search does find what the nodes are meant to log, such as the role names.
    expect(s.nodes.some((n) => n.logs().includes('"role":"alice"'))).toBe(true);
    expect(answers.length).toBeGreaterThan(50);
  });
});
