/**
 * The Directory's connection pool against a scripted ldapts-like client that can hang (no slapd):
 * what the pool holds after a directory that stopped answering answers again.
 */
import type { Client, Entry } from 'ldapts';
import { Directory } from '../src/roles/ldap/directory';
import { fakeLdapConfig, silentLog } from './fakes';

/** One entry per search; `hang` makes searches never answer, `bindGate` holds binds until it resolves. */
class HangingClient {
  static hang = false;
  static bindGate: Promise<void> | undefined;
  static created = 0;
  isConnected = true;
  isBound = false;

  constructor() {
    HangingClient.created++;
  }

  async bind(): Promise<void> {
    await HangingClient.bindGate;
    this.isBound = true;
  }

  async unbind(): Promise<void> {
    this.isConnected = false;
  }

  async search(base: string): Promise<{ searchEntries: Entry[] }> {
    if (HangingClient.hang) await new Promise(() => undefined);
    return { searchEntries: [{ dn: `uid=u0,${base}`, uid: ['u0'] } as Entry] };
  }
}

afterEach(() => jest.useRealTimers());

test('a connection that comes after its waiter gave up is kept, not leaked (the pool does not shrink for good)', async () => {
  // Fake timers: the deadlines below are staged exactly, not raced against the machine's load.
  jest.useFakeTimers();
  const cfg = fakeLdapConfig({ AUTHCACHE_LDAP_POOL_SIZE: '1', AUTHCACHE_LDAP_TIMEOUT_MS: '100' });
  const dir = new Directory(cfg, silentLog, () => new HangingClient() as unknown as Client);
  const search = () => dir.search('ou=people,dc=x', { scope: 'sub', filter: '(uid=*)' });
  const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.name);
  expect(await outcome(search())).toBe('ok'); // one connection, open and idle

  // The directory hangs: the first search takes the connection and times out at 100 ms; the
  // second (from 50 ms, deadline 150 ms) waits for it and is handed a replacement at 100 ms,
  // whose bind hangs past the second's deadline.
  HangingClient.hang = true;
  let openGate!: () => void;
  HangingClient.bindGate = new Promise<void>((r) => (openGate = r));
  const first = outcome(search());
  await jest.advanceTimersByTimeAsync(50);
  const createdBefore = HangingClient.created;
  const second = outcome(search());
  await jest.advanceTimersByTimeAsync(60);
  expect(await first).toBe('RoleStoreError');
  expect(HangingClient.created).toBe(createdBefore + 1);
  await jest.advanceTimersByTimeAsync(60);
  expect(await second).toBe('RoleStoreError');

  // The directory answers again; the late connection must join the pool, else the next search
  // waits for a connection that is counted open but held by nobody, and times out (for good:
  // every later search too, which is what a node showed after slapd was SIGSTOPped and resumed).
  HangingClient.hang = false;
  HangingClient.bindGate = undefined;
  openGate();
  await jest.advanceTimersByTimeAsync(0);
  const third = outcome(search());
  await jest.advanceTimersByTimeAsync(200);
  expect(await third).toBe('ok');
  expect(dir.health()).toBe('up');
  await dir.stop();
});

test('opening a connection counts against the operation timeout: a hung bind of a new connection fails at the deadline, and the late connection is kept', async () => {
  jest.useFakeTimers();
  const cfg = fakeLdapConfig({ AUTHCACHE_LDAP_POOL_SIZE: '1', AUTHCACHE_LDAP_TIMEOUT_MS: '100' });
  HangingClient.hang = false;
  let openGate!: () => void;
  // The service bind of the first connection hangs (a directory that accepts TCP and never answers):
  // ldapts' own timeouts apply per step (connect, StartTLS, bind), so only the pool can bound the sum.
  HangingClient.bindGate = new Promise<void>((r) => (openGate = r));
  const dir = new Directory(cfg, silentLog, () => new HangingClient() as unknown as Client);
  const search = () => dir.search('ou=people,dc=x', { scope: 'sub', filter: '(uid=*)' });
  let settled = '';
  const first = search().then(
    () => (settled = 'ok'),
    (e: Error) => (settled = `${e.name}: ${e.message}`),
  );
  await jest.advanceTimersByTimeAsync(99);
  expect(settled).toBe('');
  await jest.advanceTimersByTimeAsync(2);
  await first;
  expect(settled).toBe('RoleStoreError: the LDAP directory does not answer');

  // The bind completes late: that connection joins the pool, and the next search uses it.
  const created = HangingClient.created;
  HangingClient.bindGate = undefined;
  openGate();
  await jest.advanceTimersByTimeAsync(0);
  const next = search().then(() => 'ok', (e: Error) => e.message);
  await jest.advanceTimersByTimeAsync(10);
  expect(await next).toBe('ok');
  expect(HangingClient.created).toBe(created);
  await dir.stop();
});
