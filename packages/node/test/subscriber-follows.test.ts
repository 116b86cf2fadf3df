/**
 * subscriberFollows (src/redis.ts): the rule by which, in Sentinel mode, the subscriber connection
 * follows the command connection to another server. The connections are stand-ins with the
 * fields the rule reads (status, the socket's peer) and a disconnect that counts; the real
 * failover is test/redis-sentinel-readonly.test.ts.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { subscriberFollows } from '../src/redis';

class Conn extends EventEmitter {
  status = 'ready';
  stream: { remoteAddress: string; remotePort: number } | null;
  reconnects = 0;
  constructor(port: number) {
    super();
    this.stream = { remoteAddress: '127.0.0.1', remotePort: port };
  }
  at(port: number): this {
    this.stream = { remoteAddress: '127.0.0.1', remotePort: port };
    return this;
  }
  disconnect(reconnect?: boolean): void {
    if (reconnect) this.reconnects++;
  }
}

function setup(cmdPort: number, subPort: number) {
  const cmd = new Conn(cmdPort);
  const sub = new Conn(subPort);
  const moves: string[] = [];
  subscriberFollows(cmd as unknown as Redis, sub as unknown as Redis, (from, to) => moves.push(`${from} -> ${to}`));
  return { cmd, sub, moves };
}

it('reconnects the subscriber when the commands become ready on another server', () => {
  const { cmd, sub, moves } = setup(7002, 7001);
  cmd.emit('ready');
  expect(sub.reconnects).toBe(1);
  expect(moves).toEqual(['127.0.0.1:7001 -> 127.0.0.1:7002']);
});

it('leaves the subscriber alone on the same server, and while either connection is not ready', () => {
  const same = setup(7001, 7001);
  same.cmd.emit('ready');
  expect(same.sub.reconnects).toBe(0);
  const connecting = setup(7002, 7001);
  connecting.sub.status = 'reconnecting';
  connecting.cmd.emit('ready');
  expect(connecting.sub.reconnects).toBe(0);
});

it('checks again when the subscriber comes back: one that landed on the old server is sent on', () => {
  const { cmd, sub } = setup(7002, 7001);
  cmd.emit('ready');
  // Reconnected, but to the old server (Sentinel had not switched yet): sent on again.
  sub.emit('ready');
  expect(sub.reconnects).toBe(2);
  sub.at(7002).emit('ready');
  expect(sub.reconnects).toBe(2);
});

it('follows at most 3 times per move of the commands (one server under two addresses must not loop)', () => {
  const { cmd, sub } = setup(7002, 7001);
  cmd.emit('ready');
  for (let i = 0; i < 5; i++) sub.emit('ready');
  expect(sub.reconnects).toBe(3);
  // A new move of the commands starts a new count.
  cmd.at(7003).emit('ready');
  expect(sub.reconnects).toBe(4);
});
