/**
 * An LDAP directory for one suite, like startRedis: AUTHCACHE_LDAP_URL when set (unless
 * preferOwn); else OpenLDAP's `slapd` (PATH or /usr/sbin) on a free port with a generated
 * slapd.conf (ldap-slapd-conf.ts), an mdb database in a temp dir and the seed (ldap-seed.ts); else
 * an osixia/openldap container; else one clear Error. This module is the process lifecycle;
 * directory changes go through ldap-utils (ldap-tools.ts: `ldapmodify`, `ldappasswd`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './free-port';
import { envFor, ldapSeed, LDAP_ADMIN_PASSWORD, LDAP_SUFFIX, SEED_LOCK } from './ldap-seed';
import { makeCertificates } from './certificates';
import { slapdConf } from './ldap-slapd-conf';
import { findBinary, tools } from './ldap-tools';
import { OutputCapture } from './output-capture';
import { waitFor } from './wait-for';
import { spawnServer, type ServerProcess } from './server-process';
import { containerRuntime, serverTempDir, startOnFreePort } from './server-binary';

export {
  LDAP_SUFFIX,
  LDAP_ADMIN_DN,
  LDAP_ADMIN_PASSWORD,
  LDAP_SERVICE_DN,
  LDAP_SERVICE_PASSWORD,
  LDAP_USER_BASE,
  LDAP_GROUP_BASE,
  LDAP_SEED_USERS,
  userDn,
  groupDn,
  ldapSeed,
} from './ldap-seed';

export type LdapSource = 'env' | 'binary' | 'container';

export interface LdapHandle {
  url: string;
  host: string;
  port: number;
  source: LdapSource;
  suffix: string;
  /** AUTHCACHE_LDAP_* for a node using this directory with the seed's layout. */
  env: Record<string, string>;
  /** Runs `ldapmodify` as the directory manager with `ldif` (changetype records). */
  modify(ldif: string): Promise<void>;
  /** Sets a user's password with `ldappasswd` (the Password Modify extended operation, stored as {SSHA}). */
  passwd(uid: string, password: string): Promise<void>;
  /** Graceful stop (SIGTERM); the data stays for restart(). No-op for 'env'. */
  stop(): Promise<void>;
  /** SIGKILL. Throws for 'env'. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a directory that accepts connections and never answers. Binary only. */
  pause(): void;
  resume(): void;
  /** Starts again on the SAME port with the same data. Throws for 'env'. */
  restart(): Promise<void>;
  /** With `tls: true`. */
  tls?: LdapTls;
}

export interface StartLdapOptions {
  /** Ignore AUTHCACHE_LDAP_URL: fault tests and change tests need their own directory. */
  preferOwn?: boolean;
  /** Binary only: a CA and a server certificate (openssl), StartTLS on `url` and ldaps:// on `ldapsUrl`. */
  tls?: boolean;
}

export interface LdapTls {
  ldapsUrl: string;
  /** PEM file of the CA that signed the server certificate (for AUTHCACHE_LDAP_CA_FILE). */
  caFile: string;
}

export const NO_LDAP_MESSAGE =
  'No LDAP directory available: set AUTHCACHE_LDAP_URL (seeded like packages/testkit/src/ldap-seed.ts), install slapd and ldap-utils (apt-get install slapd ldap-utils), or start a Docker engine.';

const READY_TIMEOUT_MS = 15_000;

export async function startSlapd(opts: StartLdapOptions = {}): Promise<LdapHandle> {
  const envUrl = process.env.AUTHCACHE_LDAP_URL;
  if (envUrl && !opts.preferOwn) return fromEnv(envUrl);
  const binary = findBinary('slapd');
  if (binary && findBinary('ldapmodify')) return startBinary(binary, opts.tls === true);
  if (opts.tls) throw new Error('startSlapd({ tls: true }) needs the slapd binary and openssl');
  const container = await startContainer();
  if (container) return container;
  throw new Error(envUrl && opts.preferOwn ? `${NO_LDAP_MESSAGE} (AUTHCACHE_LDAP_URL is not used here: this suite needs its own directory.)` : NO_LDAP_MESSAGE);
}

async function fromEnv(url: string): Promise<LdapHandle> {
  const parsed = new URL(url);
  const host = parsed.hostname || '127.0.0.1';
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'ldaps:' ? 636 : 389;
  await waitFor(() => tcpOpen(host, port), { timeoutMs: 3000, intervalMs: 200, message: `AUTHCACHE_LDAP_URL=${url} does not accept connections` });
  const notOurs = (what: string) => () => {
    throw new Error(`${what}(): this directory comes from AUTHCACHE_LDAP_URL (${url}) and was not started by the testkit; use startSlapd({ preferOwn: true }).`);
  };
  const t = tools(url);
  return {
    url, host, port, source: 'env', suffix: LDAP_SUFFIX, env: envFor(url), modify: t.modify, passwd: t.passwd,
    stop: async () => undefined,
    kill: async () => notOurs('kill')(),
    pause: notOurs('pause'),
    resume: notOurs('resume'),
    restart: async () => notOurs('restart')(),
  };
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

type Running = ServerProcess;

async function startBinary(binary: string, withTls: boolean): Promise<LdapHandle> {
  const dir = serverTempDir('authcache-slapd-');
  mkdirSync(join(dir, 'data'));
  const certs = withTls ? makeCertificates(dir) : undefined;
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, certs));
  const output = new OutputCapture();
  const host = '127.0.0.1';
  let tlsPort: number | undefined;
  // The ldaps:// port is fresh on each attempt too: it is as likely to be taken as the other.
  const { port, server } = await startOnFreePort(/bind|in use/i, async (p) => {
    tlsPort = withTls ? await freePort() : undefined;
    return launch(binary, dir, p, output, tlsPort);
  });
  let current: Running | undefined = server;
  const url = `ldap://${host}:${port}`;
  const t = tools(url);
  await t.add(ldapSeed());
  await t.modify(SEED_LOCK);

  const stopWith = async (signal: NodeJS.Signals) => {
    const running = current;
    if (!running || running.done) return;
    running.child.kill('SIGCONT');
    running.child.kill(signal);
    const forced = setTimeout(() => running.child.kill('SIGKILL'), 5000);
    await running.exited;
    clearTimeout(forced);
  };
  return {
    url, host, port, source: 'binary', suffix: LDAP_SUFFIX, env: envFor(url), modify: t.modify, passwd: t.passwd,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    pause: () => current?.child.kill('SIGSTOP'),
    resume: () => current?.child.kill('SIGCONT'),
    async restart() {
      await stopWith('SIGTERM');
      current = await launch(binary, dir, port, output, tlsPort);
    },
    tls: certs && tlsPort !== undefined ? { ldapsUrl: `ldaps://${host}:${tlsPort}`, caFile: certs.ca } : undefined,
  };
}

function launch(binary: string, dir: string, port: number, output: OutputCapture, tlsPort?: number): Promise<Running> {
  const urls = [`ldap://127.0.0.1:${port}`, ...(tlsPort !== undefined ? [`ldaps://127.0.0.1:${tlsPort}`] : [])].join(' ');
  // -d 0: stay in the foreground (so we own the process) without debug output.
  return spawnServer({
    what: `slapd on port ${port}`,
    command: binary,
    args: ['-f', join(dir, 'slapd.conf'), '-h', urls, '-d', '0'],
    output,
    ready: () => tcpOpen('127.0.0.1', port),
    readyMeans: 'accepting connections',
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 25,
  });
}

/** osixia/openldap with the same suffix and seed, or undefined when no Docker engine answers. */
async function startContainer(): Promise<LdapHandle | undefined> {
  const tc = await containerRuntime();
  if (!tc || !findBinary('ldapmodify')) return undefined;
  const port = await freePort();
  const container = await new tc.GenericContainer('osixia/openldap:1.5.0')
    .withExposedPorts({ container: 389, host: port })
    .withEnvironment({ LDAP_DOMAIN: 'authcache.test', LDAP_ADMIN_PASSWORD, LDAP_TLS: 'false' })
    .withWaitStrategy(tc.Wait.forLogMessage(/slapd starting/))
    .start();
  const host = container.getHost();
  const url = `ldap://${host}:${port}`;
  const t = tools(url);
  // The image creates the suffix entry itself.
  await t.add(ldapSeed().split('\n\n').slice(1).join('\n\n'));
  await t.modify(SEED_LOCK).catch(() => undefined);
  const client = await tc.getContainerRuntimeClient();
  const docker = client.container.getById(container.getId());
  const unsupported = () => {
    throw new Error('pause()/resume() need the slapd binary (source "binary")');
  };
  return {
    url, host, port, source: 'container', suffix: LDAP_SUFFIX, env: envFor(url), modify: t.modify, passwd: t.passwd,
    stop: () => client.container.stop(docker, { timeout: 5 }),
    kill: () => client.container.stop(docker, { timeout: 0 }),
    pause: unsupported,
    resume: unsupported,
    async restart() {
      await client.container.restart(docker, { timeout: 0 });
      await waitFor(() => tcpOpen(host, port), { timeoutMs: READY_TIMEOUT_MS, message: `ldap container at ${url} did not come back` });
    },
  };
}
