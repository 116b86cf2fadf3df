/**
 * TLS with certificates this suite makes with `openssl`: the HTTP API over HTTPS, client
 * certificates signed by AUTHCACHE_TLS_CA as admin credentials (OpenSearch's admin certificates),
 * and a node that talks to a TLS-only redis-server through a rediss:// URL.
 */

import { randomBytes, X509Certificate } from 'node:crypto';
import { startNode, startRedis, waitFor, type NodeHandle, type RedisHandle } from '@authcache/testkit';
import {
  closeRedis,
  connectRedis,
  expectError,
  logLines,
  makePki,
  raw,
  startTlsRedis,
  tempDir,
  type Pki,
  type RawOptions,
  type TlsRedis,
} from './support/security';

const SETUP_TIMEOUT_MS = 60_000;
const secret = randomBytes(24).toString('base64url');
const token = randomBytes(18).toString('base64url');
const newCluster = () => `t${randomBytes(5).toString('hex')}`;

let tmp: ReturnType<typeof tempDir>;
let pki: Pki;
let redis: RedisHandle;
const started: NodeHandle[] = [];

beforeAll(async () => {
  tmp = tempDir('authcache-tls-');
  [pki, redis] = await Promise.all([makePki(tmp.dir), startRedis()]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  try {
    await Promise.all(started.map((n) => n.stop()));
    await redis?.stop();
  } finally {
    tmp?.remove();
  }
}, SETUP_TIMEOUT_MS);

/** A node serving HTTPS; startNode's own health check speaks plain HTTP, so this one polls over TLS. */
async function startHttpsNode(cluster: string, tls: Record<string, string>): Promise<{ node: NodeHandle; base: string }> {
  const node = await startNode({ redisUrl: redis.url, cluster, secret, token, env: tls, waitHealthy: false });
  started.push(node);
  const base = `https://127.0.0.1:${node.port}`;
  const gone = new AbortController();
  void node.exited.then((code) => gone.abort(new Error(`node exited with ${String(code)}:\n${node.logs()}`)));
  await waitFor(async () => (await raw(`${base}/health`, { ca: pki.pem.ca, timeoutMs: 2000 })).status === 200, {
    timeoutMs: 20_000,
    intervalMs: 100,
    message: `node ${node.id} did not answer GET ${base}/health with 200`,
    signal: gone.signal,
  });
  return { node, base };
}

describe('HTTPS API with client certificates (AUTHCACHE_TLS_CA set)', () => {
  let base: string;
  let node: NodeHandle;
  const asAdmin: RawOptions = {};
  const asStranger: RawOptions = {};
  const anonymous: RawOptions = {};

  beforeAll(async () => {
    ({ node, base } = await startHttpsNode(newCluster(), {
      AUTHCACHE_TLS_CERT: pki.serverCert,
      AUTHCACHE_TLS_KEY: pki.serverKey,
      AUTHCACHE_TLS_CA: pki.caCert,
    }));
    Object.assign(anonymous, { ca: pki.pem.ca });
    Object.assign(asAdmin, { ca: pki.pem.ca, cert: pki.pem.clientCert, key: pki.pem.clientKey });
    Object.assign(asStranger, { ca: pki.pem.ca, cert: pki.pem.strangerCert, key: pki.pem.strangerKey });
  }, SETUP_TIMEOUT_MS);

  it('serves the configured certificate', async () => {
    const r = await raw(`${base}/health`, anonymous);
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('UP');
    expect(r.peerFingerprint).toBe(new X509Certificate(pki.pem.serverCert).fingerprint256);
  });

  it('does not answer in cleartext on the TLS port', async () => {
    const plain = await raw(`http://127.0.0.1:${node.port}/health`, { timeoutMs: 5000 }).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    expect(plain).not.toBe(200);
  });

  it('login works over HTTPS', async () => {
    const put = await raw(`${base}/v1/roles/tls_user`, { ...anonymous, method: 'PUT', headers: { authorization: `Bearer ${token}` }, json: { password: 'tls-pw', login: true } });
    expect(put.status).toBe(201);
    const ok = await raw(`${base}/v1/login`, { ...anonymous, method: 'POST', json: { username: 'tls_user', password: 'tls-pw' } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ username: 'tls_user', roles: [], superuser: false });
    expect((await raw(`${base}/v1/login`, { ...anonymous, method: 'POST', json: { username: 'tls_user', password: 'nope' } })).status).toBe(401);
  });

  it('a client certificate signed by the CA is an admin credential, without any token', async () => {
    expect((await raw(`${base}/v1/roles`, asAdmin)).status).toBe(200);
    const put = await raw(`${base}/v1/roles/by_cert`, { ...asAdmin, method: 'PUT', json: { password: 'cert-pw', login: true } });
    expect(put.status).toBe(201);
    const flush = await raw(`${base}/v1/cache`, { ...asAdmin, method: 'DELETE' });
    expect(flush.status).toBe(200);
    expect(flush.json.nodes).toEqual({ total: 1, successful: 1, failed: 0 });
  });

  it('no certificate and no token -> 401', async () => {
    expectError(await raw(`${base}/v1/roles`, anonymous), 401);
    expectError(await raw(`${base}/v1/cache`, { ...anonymous, method: 'DELETE' }), 401);
  });

  it('a certificate from another CA is not an admin credential (401), and does not spoil a valid token', async () => {
    expectError(await raw(`${base}/v1/roles`, asStranger), 401);
    expectError(await raw(`${base}/v1/roles/stranger`, { ...asStranger, method: 'PUT', json: { login: true } }), 401);
    expectError(await raw(`${base}/v1/roles`, { ...asStranger, headers: { authorization: 'Bearer wrong' } }), 403);
    expect((await raw(`${base}/v1/roles`, { ...asStranger, headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Nothing was created by the refused write.
    expectError(await raw(`${base}/v1/roles/stranger`, asAdmin), 404);
  });
});

describe('HTTPS API without AUTHCACHE_TLS_CA', () => {
  it('client certificates are not admin credentials', async () => {
    const { base } = await startHttpsNode(newCluster(), { AUTHCACHE_TLS_CERT: pki.serverCert, AUTHCACHE_TLS_KEY: pki.serverKey });
    const withCert = { ca: pki.pem.ca, cert: pki.pem.clientCert, key: pki.pem.clientKey };
    expectError(await raw(`${base}/v1/roles`, withCert), 401);
    expect((await raw(`${base}/v1/roles`, { ...withCert, headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  }, SETUP_TIMEOUT_MS);
});

describe('Redis over TLS (rediss://)', () => {
  let tlsRedis: TlsRedis;
  let node: NodeHandle;
  const cluster = newCluster();

  beforeAll(async () => {
    tlsRedis = await startTlsRedis(pki, tmp.dir);
    // The CA reaches ioredis through Node's own trust store: nothing but the URL configures TLS.
    node = await startNode({ redisUrl: tlsRedis.url, cluster, secret, token, env: { NODE_EXTRA_CA_CERTS: pki.caCert } });
    started.push(node);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await node?.stop();
    await tlsRedis?.stop();
  }, SETUP_TIMEOUT_MS);

  it('the node is UP, creates a role in the TLS Redis and logs it in', async () => {
    const health = await raw(`${node.url}/health`);
    expect(health.status).toBe(200);
    expect(health.json.status).toBe('UP');

    const put = await raw(`${node.url}/v1/roles/over_tls`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, json: { password: 'tls-redis-pw', login: true } });
    expect(put.status).toBe(201);
    const first = await raw(`${node.url}/v1/login`, { method: 'POST', json: { username: 'over_tls', password: 'tls-redis-pw' } });
    expect(first.status).toBe(200);
    const second = await raw(`${node.url}/v1/login`, { method: 'POST', json: { username: 'over_tls', password: 'tls-redis-pw' } });
    expect(second.json.cached).toBe(true);

    // The role really is in that server (read over TLS from here too).
    const direct = await connectRedis(tlsRedis.url, { tls: { ca: pki.pem.ca } });
    try {
      expect(await direct.hget(`${cluster}:role:over_tls`, 'can_login')).toBe('true');
    } finally {
      closeRedis(direct);
    }
  });

  it('a node that does not trust the server certificate never becomes healthy', async () => {
    const untrusting = await startNode({ redisUrl: tlsRedis.url, cluster, secret, token, env: { LOG_LEVEL: 'debug' }, waitHealthy: false });
    started.push(untrusting);
    // Poll for the evidence (the refused certificate in its log), then look at its health.
    const refused = () => logLines(untrusting.logs()).some((l) => l.msg === 'redis connection error' && /certificate/i.test(String(l.err)));
    await waitFor(refused, {
      timeoutMs: 15_000,
      message: `no certificate error in the log of a node without the CA:\n${untrusting.logs()}`,
    });
    const health = await raw(`${untrusting.url}/health`, { timeoutMs: 2000 }).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    expect(health).not.toBe(200);
    await untrusting.stop();
  }, SETUP_TIMEOUT_MS);
});
