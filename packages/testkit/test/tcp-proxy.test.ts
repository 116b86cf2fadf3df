import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { startTcpProxy, waitFor, type TcpProxy } from '../src';

let echo: Server;
let echoPort: number;
let proxy: TcpProxy;

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(async () => {
  echo.close();
});
beforeEach(async () => {
  proxy = await startTcpProxy({ targetPort: echoPort });
});
afterEach(async () => {
  await proxy.close();
});

async function open(): Promise<Socket> {
  const s = connect(proxy.port, '127.0.0.1');
  await once(s, 'connect');
  return s;
}

async function roundTrip(s: Socket, text: string): Promise<string> {
  s.write(text);
  const [chunk] = (await once(s, 'data')) as [Buffer];
  return chunk.toString();
}

it('passes bytes both ways while open', async () => {
  const s = await open();
  expect(await roundTrip(s, 'ping')).toBe('ping');
  expect(proxy.connections()).toBe(1);
  s.destroy();
});

it('reset: held connections are reset and new ones refused until healed', async () => {
  const s = await open();
  await roundTrip(s, 'a');
  const closed = new Promise((resolve) => s.on('close', resolve));
  s.on('error', () => undefined);
  proxy.cut('reset');
  await closed;
  expect(proxy.state).toBe('reset');
  const refused = connect(proxy.port, '127.0.0.1');
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  expect(err.code).toBe('ECONNRESET');
  proxy.heal();
  const again = await open();
  expect(await roundTrip(again, 'b')).toBe('b');
  again.destroy();
});

it('blackhole: nothing gets through; healing resets the held connection and lets new ones work', async () => {
  const s = await open();
  s.on('error', () => undefined);
  proxy.cut('blackhole');
  let received = '';
  s.on('data', (c: Buffer) => (received += c.toString()));
  s.write('lost');
  const closed = new Promise((resolve) => s.on('close', resolve));
  proxy.heal();
  await closed;
  expect(received).toBe('');
  const fresh = await open();
  expect(await roundTrip(fresh, 'after')).toBe('after');
  fresh.destroy();
});

it('setDelay: every chunk is held that long each way, in order, a later shorter delay never overtaking; back to 0, bytes still pass', async () => {
  const s = await open();
  const got: string[] = [];
  s.on('data', (c: Buffer) => got.push(c.toString()));
  proxy.setDelay(150);
  const t0 = performance.now();
  s.write('a');
  await waitFor(() => proxy.held() === 1, { timeoutMs: 5000, intervalMs: 1, message: "'a' not held" });
  proxy.setDelay(0); // 'b' is not held, yet must not overtake 'a'
  s.write('b');
  await waitFor(() => got.join('') === 'ab', { timeoutMs: 5000, intervalMs: 5, message: 'not ab' });
  expect(performance.now() - t0).toBeGreaterThanOrEqual(149);
  expect(proxy.held()).toBe(0);
  proxy.setDelay(60);
  const t1 = performance.now();
  got.length = 0;
  s.write('c');
  await waitFor(() => got.join('') === 'c', { timeoutMs: 5000, intervalMs: 5, message: 'not c' });
  expect(performance.now() - t1).toBeGreaterThanOrEqual(119); // both ways
  proxy.setDelay(0);
  got.length = 0;
  s.write('d');
  await waitFor(() => got.join('') === 'd', { timeoutMs: 5000, intervalMs: 5, message: 'not d' });
  s.destroy();
});
