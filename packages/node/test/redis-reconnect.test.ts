/**
 * reconnectWhenEnded (redis.ts): a connection ioredis ended by itself is connected again, until it
 * holds; a start-up failure and the node's own close are left alone.
 */
import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import { reconnectWhenEnded } from '../src/redis';

class FakeConnection extends EventEmitter {
  status = 'wait';
  connects = 0;
  failNext = 0;
  async connect(): Promise<void> {
    this.connects++;
    if (this.failNext > 0) {
      this.failNext--;
      this.end();
      throw new Error('Connection is closed.');
    }
    this.status = 'ready';
    this.emit('ready');
  }
  end(): void {
    this.status = 'end';
    this.emit('end');
  }
}

function setup() {
  const conn = new FakeConnection();
  let stopping = false;
  let ended = 0;
  reconnectWhenEnded(conn as unknown as Redis, () => stopping, () => ended++, 200);
  return { conn, stop: () => (stopping = true), ended: () => ended };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('an end before the first ready (a start-up failure) is not retried', async () => {
  const { conn, ended } = setup();
  conn.end();
  await jest.advanceTimersByTimeAsync(1000);
  expect({ connects: conn.connects, ended: ended() }).toEqual({ connects: 0, ended: 0 });
});

test('an end after ready is connected again after the delay, and again while connecting fails', async () => {
  const { conn, ended } = setup();
  await conn.connect();
  conn.failNext = 2;
  conn.end();
  await jest.advanceTimersByTimeAsync(199);
  expect(conn.connects).toBe(1);
  await jest.advanceTimersByTimeAsync(1);
  expect(conn.connects).toBe(2); // failed: ended again
  await jest.advanceTimersByTimeAsync(400);
  expect({ connects: conn.connects, status: conn.status, ended: ended() }).toEqual({ connects: 4, status: 'ready', ended: 3 });
  await jest.advanceTimersByTimeAsync(1000);
  expect(conn.connects).toBe(4);
});

test("the node's own close is not undone", async () => {
  const { conn, stop } = setup();
  await conn.connect();
  stop();
  conn.end();
  await jest.advanceTimersByTimeAsync(1000);
  expect(conn.connects).toBe(1);
});
