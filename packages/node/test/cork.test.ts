/** bus/cork.ts: the commands of one publish leave in one write (docs/architecture.md, "Propagation"). */
import { corked } from '../src/bus/cork';

function fakeConnection() {
  const calls: string[] = [];
  const stream = { writable: true, cork: () => void calls.push('cork'), uncork: () => void calls.push('uncork') };
  return { conn: { stream }, calls };
}

it('corks the socket while the commands are sent and uncorks it on the next tick', async () => {
  const { conn, calls } = fakeConnection();
  const out = corked(conn, () => {
    calls.push('send a', 'send b');
    return 42;
  });
  expect(out).toBe(42);
  expect(calls).toEqual(['cork', 'send a', 'send b']);
  await new Promise<void>((resolve) => process.nextTick(resolve));
  expect(calls).toEqual(['cork', 'send a', 'send b', 'uncork']);
});

it('uncorks also when sending throws', async () => {
  const { conn, calls } = fakeConnection();
  expect(() => corked(conn, () => {
    throw new Error('not connected');
  })).toThrow('not connected');
  await new Promise<void>((resolve) => process.nextTick(resolve));
  expect(calls).toEqual(['cork', 'uncork']);
});

it('runs as is on a connection without a socket of its own (a Redis Cluster client) or a closed one', () => {
  expect(corked({}, () => 'sent')).toBe('sent');
  const { conn, calls } = fakeConnection();
  conn.stream.writable = false;
  expect(corked(conn, () => 'sent')).toBe('sent');
  expect(calls).toEqual([]);
});
