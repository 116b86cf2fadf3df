/**
 * An LDAP directory for one suite, like startRedis: AUTHCACHE_LDAP_URL when set (unless
 * preferOwn); else OpenLDAP's `slapd` (PATH or /usr/sbin) on a free port with a generated
 * slapd.conf, an mdb database in a temp dir and the seed below; else an osixia/openldap container;
 * else one clear Error. Directory changes go through ldap-utils (`ldapmodify`, `ldappasswd`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { atExit } from './child-reaper';
import { freePort } from './free-port';
import { OutputCapture } from './output-capture';
import { waitFor } from './wait-for';
import { spawnServer, type ServerProcess } from './server-process';

export type LdapSource = 'env' | 'binary' | 'container';

export const LDAP_SUFFIX = 'dc=authcache,dc=test';
export const LDAP_ADMIN_DN = `cn=admin,${LDAP_SUFFIX}`;
export const LDAP_ADMIN_PASSWORD = 'admin-secret';
export const LDAP_SERVICE_DN = `cn=authcache,ou=services,${LDAP_SUFFIX}`;
export const LDAP_SERVICE_PASSWORD = 'service-secret';
export const LDAP_USER_BASE = `ou=people,${LDAP_SUFFIX}`;
export const LDAP_GROUP_BASE = `ou=groups,${LDAP_SUFFIX}`;

/**
 * The seed: users (password = `<uid>-pw`) and groups.
 * - alice ∈ developers; developers ∈ engineering (nested); engineering ∈ staff (two levels)
 * - bob ∈ readers; carol ∈ admins (the admin group) and readers
 * - dave ∈ developers, locked (pwdAccountLockedTime set; ppolicy defines the attribute, no policy enforces it)
 * - erin has no group
 */
export const LDAP_SEED_USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;

export const userDn = (uid: string) => `uid=${uid},${LDAP_USER_BASE}`;
export const groupDn = (cn: string) => `cn=${cn},${LDAP_GROUP_BASE}`;

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
  'No LDAP directory available: set AUTHCACHE_LDAP_URL (seeded like packages/testkit/src/ldap.ts), install slapd and ldap-utils (apt-get install slapd ldap-utils), or start a Docker engine.';

const READY_TIMEOUT_MS = 15_000;

export function ldapSeed(): string {
  const s = LDAP_SUFFIX;
  const user = (uid: string, extra = '') =>
    `dn: ${userDn(uid)}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${uid}-pw\n${extra}`;
  const group = (cn: string, members: string[]) =>
    `dn: ${groupDn(cn)}\nobjectClass: groupOfNames\ncn: ${cn}\n${members.map((m) => `member: ${m}`).join('\n')}\n`;
  return [
    `dn: ${s}\nobjectClass: dcObject\nobjectClass: organization\ndc: authcache\no: authcache test\n`,
    `dn: ou=people,${s}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${s}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=services,${s}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: ${LDAP_SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: authcache\nuserPassword: ${LDAP_SERVICE_PASSWORD}\n`,
    ...LDAP_SEED_USERS.map((u) => user(u)),
    group('developers', [userDn('alice'), userDn('dave')]),
    group('engineering', [groupDn('developers')]),
    group('staff', [groupDn('engineering')]),
    group('readers', [userDn('bob'), userDn('carol')]),
    group('admins', [userDn('carol')]),
  ].join('\n');
}

/** The lock of dave, applied after the seed (pwdAccountLockedTime is operational: ldapadd as the manager). */
const SEED_LOCK = `dn: ${userDn('dave')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`;

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

function envFor(url: string): Record<string, string> {
  return {
    AUTHCACHE_BACKEND: 'ldap',
    AUTHCACHE_LDAP_URL: url,
    AUTHCACHE_LDAP_BIND_DN: LDAP_SERVICE_DN,
    AUTHCACHE_LDAP_BIND_PASSWORD: LDAP_SERVICE_PASSWORD,
    AUTHCACHE_LDAP_USER_BASE: LDAP_USER_BASE,
    AUTHCACHE_LDAP_GROUP_BASE: LDAP_GROUP_BASE,
    AUTHCACHE_LDAP_ADMIN_GROUP: 'admins',
    AUTHCACHE_LDAP_DISABLED_FILTER: '(pwdAccountLockedTime=*)',
  };
}

function tools(url: string) {
  const run = (cmd: string, args: string[], input?: string) =>
    new Promise<void>((resolve, reject) => {
      const child = execFile(findBinary(cmd) ?? cmd, args, { timeout: 10_000 }, (err, _stdout, stderr) =>
        err ? reject(new Error(`${cmd} failed: ${stderr.trim() || err.message}`)) : resolve(),
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  const auth = ['-x', '-H', url, '-D', LDAP_ADMIN_DN, '-w', LDAP_ADMIN_PASSWORD];
  return {
    modify: (ldif: string) => run('ldapmodify', [...auth], ldif),
    add: (ldif: string) => run('ldapadd', [...auth], ldif),
    passwd: (uid: string, password: string) => run('ldappasswd', [...auth, '-s', password, userDn(uid)]),
  };
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

function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
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

const MODULE_DIRS = ['/usr/lib/ldap', '/usr/lib/x86_64-linux-gnu/ldap', '/usr/lib/aarch64-linux-gnu/ldap', '/usr/lib64/openldap', '/usr/libexec/openldap'];
const SCHEMA_DIRS = ['/etc/ldap/schema', '/etc/openldap/schema', '/usr/local/etc/openldap/schema'];

function firstExisting(dirs: string[], file: string): string | undefined {
  for (const d of dirs) {
    try {
      accessSync(join(d, file), constants.R_OK);
      return d;
    } catch {
      // next
    }
  }
  return undefined;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=authcache test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('san.ext'), '-out', f('server.pem'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

function slapdConf(dir: string, tls?: { ca: string; cert: string; key: string }): string {
  const schema = firstExisting(SCHEMA_DIRS, 'core.schema');
  if (!schema) throw new Error(`slapd: no OpenLDAP schema directory found (looked in ${SCHEMA_DIRS.join(', ')})`);
  const modules = firstExisting(MODULE_DIRS, 'back_mdb.so') ?? firstExisting(MODULE_DIRS, 'memberof.so');
  const load = modules
    ? `modulepath ${modules}\n${['back_mdb', 'memberof', 'ppolicy'].filter((m) => firstExisting([modules], `${m}.so`)).map((m) => `moduleload ${m}`).join('\n')}\n`
    : '';
  return `${['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${schema}/${s}.schema`).join('\n')}
${load}${tls ? `TLSCACertificateFile ${tls.ca}\nTLSCertificateFile ${tls.cert}\nTLSCertificateKeyFile ${tls.key}\n` : ''}# A DN with an empty password binds (unauthenticated bind), as on many servers: the trap the store must avoid.
allow bind_anon_dn
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args

database mdb
maxsize 67108864
suffix "${LDAP_SUFFIX}"
rootdn "${LDAP_ADMIN_DN}"
rootpw ${LDAP_ADMIN_PASSWORD}
directory ${dir}/data
index objectClass eq
index uid,cn,member eq
overlay memberof
memberof-refint TRUE
overlay ppolicy
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by anonymous auth
`;
}

type Running = ServerProcess;

async function startBinary(binary: string, withTls: boolean): Promise<LdapHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'authcache-slapd-'));
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'data'));
  const certs = withTls ? makeCertificates(dir) : undefined;
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, certs));
  const output = new OutputCapture();
  const host = '127.0.0.1';
  let port = 0;
  let tlsPort: number | undefined;
  let current: Running | undefined;
  for (let attempt = 1; !current; attempt++) {
    port = await freePort();
    tlsPort = withTls ? await freePort() : undefined;
    try {
      current = await launch(binary, dir, port, output, tlsPort);
    } catch (err) {
      if (attempt >= 5 || !/bind|in use/i.test((err as Error).message)) throw err;
    }
  }
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
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  if (!findBinary('ldapmodify')) return undefined;
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
