import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { startTcpProxy, type TcpProxy } from '../src';

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
