import { PassThrough, Readable } from 'node:stream';
import { CommanderError, InvalidArgumentError } from 'commander';
import { ConnectionError, ForbiddenError, InvalidCredentialsError, UnauthorizedError, UnavailableError } from '@authcache/client';
import { EXIT, exitCodeFor, InterruptedError, RefusedError, UsageError } from '../src/cli/exit-codes';
import { settingsChangeLines } from '../src/cli/format';
import { rewriteMultiLetterFlags } from '../src/cli/nodetool-flags';
import { parseCacheName, parseNonNegativeInt, parsePort, settingsChangeFrom } from '../src/cli/options';
import { promptHidden, readAll, resolvePassword } from '../src/cli/password';
import { BUILTIN_DEFAULTS, defaultsFromEnv, targetAddress } from '../src/cli/target';
import type { CliIO } from '../src/cli/io';

describe('targetAddress (-h/-p) and AUTHCACHE_URL', () => {
  // [host, port] as commander leaves them: undefined when the flag was not given.
  test.each([
    [undefined, undefined, '127.0.0.1:7070'],
    ['10.0.0.5', 7001, '10.0.0.5:7001'],
    // the address column of `authctl status`, passed back as nodetool runbooks do with -h $node
    ['127.0.0.1:7002', undefined, '127.0.0.1:7002'],
    ['127.0.0.1:7002', 7002, '127.0.0.1:7002'],
    ['::1', 7001, '[::1]:7001'],
    ['[::1]:7003', undefined, '[::1]:7003'],
    ['https://auth.example.com', 8443, 'https://auth.example.com:8443'],
    ['http://auth.example.com:9000/base', undefined, 'http://auth.example.com:9000/base'],
  ])('-h %s -p %s -> %s', (host, port, expected) => {
    expect(targetAddress(host, port)).toBe(expected);
  });

  test.each([
    ['', undefined],
    ['host:7002', 7001],
    ['host:abc', undefined],
    ['host:70000', undefined],
    [':7001', undefined],
    ['[::1', undefined],
  ])('-h %j -p %s is a usage error', (host, port) => {
    expect(() => targetAddress(host, port)).toThrow(UsageError);
  });

  test('AUTHCACHE_URL gives the defaults; -h replaces the host (and its port), -p the port', () => {
    const env = defaultsFromEnv('http://127.0.0.1:7001');
    expect(targetAddress(undefined, undefined, env)).toBe('127.0.0.1:7001');
    expect(targetAddress(undefined, 7002, env)).toBe('127.0.0.1:7002');
    expect(targetAddress('127.0.0.1:7003', undefined, env)).toBe('127.0.0.1:7003');
    expect(targetAddress('10.0.0.5', undefined, env)).toBe('10.0.0.5:7001');
    expect(targetAddress('https://other:9443', undefined, env)).toBe('https://other:9443');
    // https is kept for a -h without a scheme: the status loop works against a TLS cluster too
    const tls = defaultsFromEnv('https://auth.example.com:8443/base/');
    expect(targetAddress(undefined, undefined, tls)).toBe('https://auth.example.com:8443/base');
    expect(targetAddress('10.0.0.7:8443', undefined, tls)).toBe('https://10.0.0.7:8443');
    expect(targetAddress(undefined, undefined, defaultsFromEnv('node2:7002'))).toBe('node2:7002');
    expect(targetAddress(undefined, undefined, defaultsFromEnv('http://[::1]:7001'))).toBe('[::1]:7001');
    expect(defaultsFromEnv('')).toBe(BUILTIN_DEFAULTS);
    expect(defaultsFromEnv(undefined)).toBe(BUILTIN_DEFAULTS);
  });

  test.each(['a:1,b:2', 'ftp://x', 'http://u:p@x:1', 'http://[x'])('AUTHCACHE_URL=%s is a usage error', (v) => {
    expect(() => defaultsFromEnv(v)).toThrow(UsageError);
  });

  test.each(['http://u:hunter2@a:1,http://b:2', 'http://u:hunter2@[x:1'])('the usage error for AUTHCACHE_URL=%s does not show its password', (v) => {
    expect(() => defaultsFromEnv(v)).toThrow(UsageError);
    expect(() => defaultsFromEnv(v)).not.toThrow(/hunter2/);
  });
});

describe('option values', () => {
  test('ports', () => {
    expect(parsePort('7001')).toBe(7001);
    for (const bad of ['0', '65536', 'abc', '-1', '70.5', '']) expect(() => parsePort(bad)).toThrow(InvalidArgumentError);
  });

  test('whole numbers', () => {
    expect(parseNonNegativeInt('0')).toBe(0);
    expect(parseNonNegativeInt('3600000')).toBe(3600000);
    for (const bad of ['-5', '1e3', '1.5', 'x', '99999999999999999999']) expect(() => parseNonNegativeInt(bad)).toThrow(InvalidArgumentError);
  });

  test("cache names: Cassandra's and ours, any case", () => {
    expect(parseCacheName('CredentialsCache')).toBe('credentials');
    expect(parseCacheName('credentials')).toBe('credentials');
    expect(parseCacheName('RolesCache')).toBe('roles');
    expect(parseCacheName('ROLES')).toBe('roles');
    expect(parseCacheName('PermissionsCache')).toBe('permissions');
    expect(parseCacheName('impersonationcache')).toBe('impersonation');
    expect(() => parseCacheName('CountersCache')).toThrow(InvalidArgumentError);
    // nodetool's words (NodeProbe.getAuthCacheMBean), and Cassandra's caches that authcache lacks said to be so
    expect(() => parseCacheName('wrong')).toThrow(/^Unknown cache name: wrong; one of CredentialsCache/);
    expect(() => parseCacheName('JmxPermissionsCache')).toThrow('Unknown cache name: JmxPermissionsCache (a Cassandra cache authcache does not have)');
    expect(() => parseCacheName('constructor')).toThrow(InvalidArgumentError);
  });
});

describe('settingsChangeFrom', () => {
  test('our flags', () => {
    expect(settingsChangeFrom({ ttlMinutes: 30, maxEntries: 500, refreshMs: 1000 })).toEqual({
      ttl_ms: 1_800_000,
      max_entries: 500,
      refresh_ms: 1000,
    });
  });

  test("Cassandra's flags map onto the same fields", () => {
    expect(
      settingsChangeFrom({ cacheName: 'credentials', validityPeriod: 2000, updateInterval: 1000, maxEntries: 10, enableActiveUpdate: true }),
    ).toEqual({ cache: 'credentials', ttl_ms: 2000, refresh_ms: 1000, max_entries: 10, active_update: true });
    expect(settingsChangeFrom({ disableActiveUpdate: true })).toEqual({ active_update: false });
  });

  test('ttl 0 (disable caching) is a change, not nothing', () => {
    expect(settingsChangeFrom({ ttlMs: 0 })).toEqual({ ttl_ms: 0 });
  });

  test("--update-interval -1 (Cassandra: update interval = validity) is refresh off", () => {
    expect(settingsChangeFrom({ updateInterval: -1 })).toEqual({ refresh_ms: 0 });
    expect(() => settingsChangeFrom({ updateInterval: -1, refreshMs: 0 })).toThrow(/--refresh-ms and --update-interval/);
  });

  test("settingsChangeLines: nodetool's lines exactly, in its order, then the caches named", () => {
    const change = { cache: 'credentials' as const, ttl_ms: 1, refresh_ms: 0, max_entries: 3, active_update: false };
    expect(settingsChangeLines(change, { updateInterval: -1 })).toEqual([
      'Changed Validity Period to 1',
      'Changed Update Interval to -1',
      'Changed Max Entries to 3',
      'Changed Active Update to false',
      'For CredentialsCache, transient',
    ]);
    expect(settingsChangeLines({ refresh_ms: 2, persistent: true })).toEqual([
      'Changed Update Interval to 2',
      'For every cache (CredentialsCache, RolesCache, PermissionsCache and ImpersonationCache), persistent',
    ]);
  });

  test('persistent and local are passed on', () => {
    expect(settingsChangeFrom({ ttlMs: 1, persistent: true })).toEqual({ ttl_ms: 1, persistent: true });
    expect(settingsChangeFrom({ ttlMs: 1, local: true })).toEqual({ ttl_ms: 1, local: true });
  });

  test.each([
    [{ ttlMs: 1, ttlMinutes: 1 }, /--ttl-ms and --ttl-minutes/],
    [{ ttlMs: 1, validityPeriod: 1 }, /--ttl-ms and --validity-period/],
    [{ refreshMs: 1, updateInterval: 1 }, /--refresh-ms and --update-interval/],
    [{ enableActiveUpdate: true, disableActiveUpdate: true }, /contradict/],
    [{ cacheName: 'roles' as const }, /At least one optional parameter need to be passed/],
    [{}, /At least one optional parameter need to be passed/],
    [{ ttlMs: 1, persistent: true, local: true }, /--persistent and --local/],
  ])('%j is a usage error', (flags, message) => {
    expect(() => settingsChangeFrom(flags)).toThrow(UsageError);
    expect(() => settingsChangeFrom(flags)).toThrow(message);
  });
});

describe("nodetool's multi-letter flags", () => {
  const values = new Set(['--token', '-h', '-p']);
  test('-pp, -pw, -pwf become long names; not after --, not as a value', () => {
    expect(rewriteMultiLetterFlags(['-pp', 'status', '-pw', 'x', '-pwf', 'f'], values)).toEqual(['--print-port', 'status', '--jmx-password', 'x', '--password-file', 'f']);
    expect(rewriteMultiLetterFlags(['--token', '-pp', 'status'], values)).toEqual(['--token', '-pp', 'status']);
    expect(rewriteMultiLetterFlags(['invalidaterolescache', '--', '-pp', '-pw'], values)).toEqual(['invalidaterolescache', '--', '-pp', '-pw']);
    expect(rewriteMultiLetterFlags(['-p', '7001', '-ppx'], values)).toEqual(['-p', '7001', '-ppx']);
  });
});

describe('exit codes', () => {
  test.each([
    [new CommanderError(0, 'commander.helpDisplayed', ''), EXIT.OK],
    [new CommanderError(1, 'commander.unknownOption', ''), EXIT.USAGE],
    [new UsageError('x'), EXIT.USAGE],
    [new ConnectionError([{ node: 'http://127.0.0.1:1', error: 'ECONNREFUSED' }]), EXIT.UNREACHABLE],
    [new UnavailableError(503, { error: 'out of sync' }, 'n'), EXIT.UNREACHABLE],
    [new UnauthorizedError(401, {}, 'n'), EXIT.REFUSED],
    [new ForbiddenError(403, {}, 'n'), EXIT.REFUSED],
    [new InvalidCredentialsError(401, {}, 'n'), EXIT.REFUSED],
    [new RefusedError('exists'), EXIT.REFUSED],
    [new InterruptedError(), 130],
  ])('%p -> %d', (err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });
});

/** A terminal as far as the prompt can tell: raw mode is recorded, keystrokes are pushed by the test. */
function fakeTty(): PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => void; modes: boolean[] } {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => void; modes: boolean[] };
  s.isTTY = true;
  s.modes = [];
  s.setRawMode = (on) => void s.modes.push(on);
  return s;
}

function sink(): { write(s: string): boolean; text: string } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

describe('passwords', () => {
  test('the prompt echoes nothing, handles backspace and arrow keys, and leaves raw mode', async () => {
    const tty = fakeTty();
    const out = sink();
    const p = promptHidden('Password: ', tty, out);
    tty.write('s3cx\x7f');
    tty.write('\x1b[Dret\r');
    await expect(p).resolves.toBe('s3cret');
    expect(out.text).toBe('Password: \n');
    expect(tty.modes).toEqual([true, false]);
  });

  test('Ctrl-C at the prompt interrupts', async () => {
    const tty = fakeTty();
    const p = promptHidden('Password: ', tty, sink());
    tty.write('abc\x03');
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
    expect(tty.modes).toEqual([true, false]);
  });

  test('stdin: one trailing line break is dropped, inner whitespace kept', async () => {
    await expect(readAll(Readable.from([Buffer.from('pa ss\r\n')]))).resolves.toBe('pa ss');
    await expect(readAll(Readable.from([Buffer.from('pw\n\n')]))).resolves.toBe('pw\n');
  });

  const io = (stdin: CliIO['stdin']): CliIO & { err: ReturnType<typeof sink> } => {
    const err = sink();
    return { stdout: sink(), stderr: err, stdin, env: {}, err };
  };

  test('--password works but warns on stderr', async () => {
    const x = io(Readable.from([]));
    await expect(resolvePassword({ password: 'pw', passwordStdin: undefined, required: true, confirm: false }, x)).resolves.toBe('pw');
    expect(x.err.text).toMatch(/warning: a password on the command line/);
  });

  test('--password-stdin reads stdin, silently', async () => {
    const x = io(Readable.from([Buffer.from('from-stdin\n')]));
    await expect(resolvePassword({ password: undefined, passwordStdin: true, required: true, confirm: false }, x)).resolves.toBe('from-stdin');
    expect(x.err.text).toBe('');
  });

  test('no password and no terminal: usage error, nothing read', async () => {
    const x = io(Readable.from([Buffer.from('ignored')]));
    await expect(resolvePassword({ password: undefined, passwordStdin: undefined, required: true, confirm: false }, x)).rejects.toThrow(
      /use --password-stdin/,
    );
  });

  test('optional password not asked for: none', async () => {
    const x = io(Readable.from([]));
    await expect(resolvePassword({ password: undefined, passwordStdin: undefined, required: false, confirm: true }, x)).resolves.toBeUndefined();
  });

  test('both --password and --password-stdin: usage error', async () => {
    const x = io(Readable.from([]));
    await expect(resolvePassword({ password: 'a', passwordStdin: true, required: true, confirm: false }, x)).rejects.toBeInstanceOf(UsageError);
  });

  test('empty password on stdin: usage error', async () => {
    const x = io(Readable.from([Buffer.from('\n')]));
    await expect(resolvePassword({ password: undefined, passwordStdin: true, required: true, confirm: false }, x)).rejects.toThrow(/empty/);
  });

  test('a new password is asked twice on a terminal, and must match', async () => {
    const tty = fakeTty();
    const x = io(tty);
    const ok = resolvePassword({ password: true, passwordStdin: undefined, required: false, confirm: true }, x);
    tty.write('n3w\r');
    await new Promise((r) => setImmediate(r));
    tty.write('n3w\r');
    await expect(ok).resolves.toBe('n3w');
    expect(x.err.text).toBe('Password: \nPassword (again): \n');

    const tty2 = fakeTty();
    const bad = resolvePassword({ password: true, passwordStdin: undefined, required: false, confirm: true }, io(tty2));
    tty2.write('one\r');
    await new Promise((r) => setImmediate(r));
    tty2.write('two\r');
    await expect(bad).rejects.toThrow(/do not match/);
  });
});
