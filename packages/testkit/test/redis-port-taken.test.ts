/**
 * A port found free can be taken before redis-server binds it (another suite, a client's ephemeral
 * port): Sentinel and Redis Cluster nodes then start on a fresh one (src/redis-sentinel.ts,
 * spawnRedisOnFreePort), as the single Redis, slapd and PostgreSQL already did. Real redis-server
 * processes, a port held by a listening socket of this test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PORT_TAKEN, dataNodeArgs, spawnRedisOnFreePort, spawnRedisServer, type RedisProcess } from '../src/redis-sentinel';

let held: Server;
let heldPort: number;
let dir: string;
const started: RedisProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'authcache-port-taken-'));
  // Closes what connects, so that no PING to it waits.
  held = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  heldPort = (held.address() as { port: number }).port;
});
afterAll(async () => {
  await Promise.all(started.map((s) => s.kill()));
  await new Promise((resolve) => held.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('redis-server on a taken port fails with the words that mean "port taken"', async () => {
  const err = await spawnRedisServer(dataNodeArgs(heldPort, dir), heldPort, 'redis on a taken port').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(PORT_TAKEN);
});

it('spawnRedisOnFreePort starts again on a fresh port when the first was taken', async () => {
  const tried: number[] = [];
  // The first attempt binds the held port, whatever port was found free: as if it had been taken meanwhile.
  const argsFor = (port: number) => {
    tried.push(port);
    return dataNodeArgs(tried.length === 1 ? heldPort : port, dir);
  };
  const server = await spawnRedisOnFreePort(argsFor, 'redis retried');
  started.push(server);
  expect(tried).toHaveLength(2);
  expect(server.port).toBe(tried[1]);
  const r = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    expect(await r.ping()).toBe('PONG');
  } finally {
    r.disconnect();
  }
});
