/**
 * What the security suites share beyond ../support: raw HTTP(S) requests that can choose their
 * source address and client certificate, Prometheus and log readers, a test PKI made with the
 * real `openssl`, a TLS-only redis-server, and a direct Redis connection.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, repoRoot, waitFor } from '@authcache/testkit';
// Not part of the testkit's public API, but the only way to make sure a server this file spawns
// dies with the jest worker even when afterAll never runs (jest's sandboxed `process` never fires 'exit').
import { track } from '@authcache/testkit';
import { STACK_TRACE } from '../support';

const run = promisify(execFile);

export type RedisClient = Redis;

/** `Authorization` value of HTTP Basic credentials. */
export function basic(username: string, password: string): string {
  return `Basic ${basic64(username, password)}`;
}

/** The base64 part of a Basic header: what a leaked header would show in a log. */
export function basic64(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
  /** fingerprint256 of the server certificate (https only) */
  peerFingerprint?: string;
}

export interface RawOptions {
  method?: string;
  headers?: Record<string, string>;
  /** sent as is, whatever the method (fetch refuses a body on GET/HEAD; the fuzzer wants one) */
  body?: string | Buffer;
  /** JSON body with content-type application/json */
  json?: unknown;
  /** source address of the connection: any 127.x.y.z works on Linux loopback, so tests can be "other clients" */
  localAddress?: string;
  /** https: CA to trust, and an optional client certificate */
  ca?: string;
  cert?: string;
  key?: string;
  timeoutMs?: number;
}

/**
 * One request on its own connection (no keep-alive pool outliving a test), over http or https
 * according to the URL. Like ../support's call(), every answer is checked for leaked stack traces.
 */
export function raw(url: string, opts: RawOptions = {}): Promise<RawReply> {
  const headers: Record<string, string> = { ...opts.headers };
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] ??= 'application/json';
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const secure = url.startsWith('https:');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<RawReply>((resolve, reject) => {
    const options = {
      method: opts.method ?? 'GET',
      headers,
      agent: false as const,
      timeout: timeoutMs,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      ...(secure ? { ca: opts.ca, cert: opts.cert, key: opts.key } : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const socket = res.socket as unknown as { getPeerCertificate?: () => { fingerprint256?: string } };
        const peerFingerprint = secure ? socket.getPeerCertificate?.()?.fingerprint256 : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ...(peerFingerprint ? { peerFingerprint } : {}) });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  }).then((r) => {
    expect(r.text).not.toMatch(STACK_TRACE);
    return r;
  });
}

/** Status and `{"error": "<non-empty string>"}` body. */
export function expectError(r: { status: number; json: any }, status: number): void {
  expect({ status: r.status, error: typeof r.json?.error }).toEqual({ status, error: 'string' });
  expect(r.json.error.length).toBeGreaterThan(0);
}

/** Value of one sample of a Prometheus text exposition (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

export async function scrape(baseUrl: string): Promise<string> {
  const r = await raw(`${baseUrl}/metrics`);
  expect(r.status).toBe(200);
  return r.text;
}

/** pino JSON lines of a node's captured output (non-JSON lines are skipped). */
export function logLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by the capture's bound or still being written
    }
  }
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A temp dir and its removal (call it in afterAll). */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}


/** A direct Redis connection that fails fast instead of queueing; closeRedis() it when done. */
export async function connectRedis(url: string, extra: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    disconnectTimeout: 200,
    ...extra,
  });
  redis.on('error', () => {
    // reported through the failing command
  });
  await redis.connect();
  return redis;
}

/** Closes a connection whatever became of its server meanwhile. */
export function closeRedis(redis: Redis | undefined): void {
  // Once the connection has ended (the suite's Redis stopped first), disconnect() would arm a timer
  // waiting for a 'close' that already happened, and keep jest alive for it.
  if (redis && redis.status !== 'end') redis.disconnect();
}

// ---------------------------------------------------------------------------------------------
// A test PKI: two unrelated CAs, a server certificate for 127.0.0.1 and client certificates.

export interface Pki {
  dir: string;
  /** paths */
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** signed by another CA, which the node does not trust */
  strangerCert: string;
  strangerKey: string;
  /** PEM text of the files above, for node:https options */
  pem: { ca: string; clientCert: string; clientKey: string; strangerCert: string; strangerKey: string; serverCert: string };
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir, timeout: 20_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(dir, [
    'req', '-x509', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

async function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string): Promise<void> {
  await openssl(dir, ['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`,
  ]);
}

/** Generates everything with `openssl` in `dir` (EC P-256 keys: fast to make). */
export async function makePki(dir: string): Promise<Pki> {
  await makeCa(dir, 'ca', 'authcache test CA');
  await makeCa(dir, 'other-ca', 'some other CA');
  await makeLeaf(dir, 'server', 'ca', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await makeLeaf(dir, 'client', 'ca', 'authcache-admin', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  await makeLeaf(dir, 'stranger', 'other-ca', 'authcache-admin', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const p = (f: string) => join(dir, f);
  const read = (f: string) => readFileSync(p(f), 'utf8');
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    strangerCert: p('stranger.crt'),
    strangerKey: p('stranger.key'),
    pem: {
      ca: read('ca.crt'),
      clientCert: read('client.crt'),
      clientKey: read('client.key'),
      strangerCert: read('stranger.crt'),
      strangerKey: read('stranger.key'),
      serverCert: read('server.crt'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// redis-server listening on TLS only.

export interface TlsRedis {
  port: number;
  /** rediss://127.0.0.1:port */
  url: string;
  stop(): Promise<void>;
}

/** Starts `redis-server` with TLS only (no plain port) on a free port; resolves once it answers PING over TLS. */
export async function startTlsRedis(pki: Pki, dataDir: string): Promise<TlsRedis> {
  let lastError: Error | undefined;
  // freePort can race with another process taking the port: a few fresh ports, no more.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port', '0',
        '--tls-port', String(port),
        '--bind', '127.0.0.1',
        '--tls-cert-file', pki.serverCert,
        '--tls-key-file', pki.serverKey,
        '--tls-ca-cert-file', pki.caCert,
        '--tls-auth-clients', 'no',
        '--save', '',
        '--appendonly', 'no',
        '--dir', dataDir,
        '--daemonize', 'no',
        '--logfile', '',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(child);
    let output = '';
    for (const s of [child.stdout, child.stderr]) s?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const gone = new AbortController();
    void exited.then(() => gone.abort(new Error('redis-server exited')));
    const url = `rediss://127.0.0.1:${port}`;
    try {
      await waitFor(
        async () => {
          const r = await connectRedis(url, { tls: { ca: pki.pem.ca } });
          try {
            return (await r.ping()) === 'PONG';
          } finally {
            closeRedis(r);
          }
        },
        { timeoutMs: 10_000, intervalMs: 100, message: `TLS redis-server on ${port} did not answer PING`, signal: gone.signal },
      );
      return { port, url, stop: () => stopChild(child, exited) };
    } catch (err) {
      await stopChild(child, exited);
      lastError = new Error(`${(err as Error).message}\n--- redis-server output ---\n${output}`);
    }
  }
  throw lastError!;
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(forced);
}
