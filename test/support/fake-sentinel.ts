/**
 * A fake Redis Sentinel that never notifies. It stands for a Sentinel whose `+switch-master` never
 * reaches a node (a partition, a lost pub/sub message, an operator's manual REPLICAOF): it names the
 * master the test sets, accepts the failover detector's SUBSCRIBE and never publishes anything. So a
 * node that moves to a new master behind it can only have done so by reconnecting on its own and
 * asking again (redis.ts: reconnectOnError on READONLY). The data nodes stay real redis-servers.
 *
 * It answers exactly what ioredis 5 sends a sentinel (built/connectors/SentinelConnector/index.js,
 * FailoverDetector.js, built/redis/event_handler.js): on every connection `CLIENT SETINFO LIB-VER|
 * LIB-NAME` (errors ignored by ioredis, answered OK here); then `SENTINEL get-master-addr-by-name`
 * and `SENTINEL sentinels` (updateSentinels) from the connector, or `SUBSCRIBE +switch-master` from
 * the detector. Sentinel clients have enableReadyCheck off (no INFO) and, without a sentinel
 * password, send no AUTH; ioredis speaks RESP2 (no HELLO). Anything else gets an error.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface FakeSentinel {
  port: number;
  /** The address `SENTINEL get-master-addr-by-name` answers from now on. */
  setMaster(host: string, port: number): void;
  /** How many `get-master-addr-by-name` were answered (with an address). */
  askedCount(): number;
  /** How many SUBSCRIBE +switch-master were confirmed: the failover detector is listening here. */
  subscribedCount(): number;
  stop(): Promise<void>;
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const array = (items: string[]) => `*${items.length}\r\n${items.map(bulk).join('')}`;

/**
 * Takes every complete RESP array of bulk strings off the front of `buf`; returns the commands and
 * what is left (a partial command waits for the next chunk). Undefined: not RESP we understand.
 */
export function parseCommands(buf: Buffer): { commands: string[][]; rest: Buffer } | undefined {
  const commands: string[][] = [];
  let at = 0;
  const line = (from: number): [string, number] | undefined => {
    const end = buf.indexOf('\r\n', from);
    return end < 0 ? undefined : [buf.toString('latin1', from, end), end + 2];
  };
  for (;;) {
    const head = line(at);
    if (!head) break;
    if (head[0][0] !== '*') return undefined;
    const n = Number(head[0].slice(1));
    let pos = head[1];
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = line(pos);
      if (!len) break;
      if (len[0][0] !== '$') return undefined;
      const size = Number(len[0].slice(1));
      if (buf.length < len[1] + size + 2) break;
      args.push(buf.toString('utf8', len[1], len[1] + size));
      pos = len[1] + size + 2;
    }
    if (args.length < n) break;
    commands.push(args);
    at = pos;
  }
  return { commands, rest: buf.subarray(at) };
}

export async function startFakeSentinel(name: string, master: { host: string; port: number }): Promise<FakeSentinel> {
  let current = master;
  let asked = 0;
  let subscribed = 0;
  const sockets = new Set<Socket>();

  const answer = (args: string[]): string => {
    const [cmd = '', sub = ''] = args.map((a) => a.toLowerCase());
    if (cmd === 'sentinel' && sub === 'get-master-addr-by-name') {
      if (args[2] !== name) return '*-1\r\n';
      asked++;
      return array([current.host, String(current.port)]);
    }
    if (cmd === 'sentinel' && sub === 'sentinels') return '*0\r\n';
    if (cmd === 'client' || cmd === 'quit') return '+OK\r\n';
    if (cmd === 'ping') return '+PONG\r\n';
    if (cmd === 'subscribe') {
      // One confirmation per channel, as Redis sends them; nothing is ever published.
      return args
        .slice(1)
        .map((ch, i) => {
          subscribed++;
          return `*3\r\n${bulk('subscribe')}${bulk(ch)}:${i + 1}\r\n`;
        })
        .join('');
    }
    return `-ERR fake sentinel: unknown command '${args[0] ?? ''}'\r\n`;
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const parsed = parseCommands(Buffer.concat([pending, chunk]));
      if (!parsed) return void socket.destroy();
      pending = parsed.rest;
      for (const args of parsed.commands) {
        socket.write(answer(args));
        if (args[0]?.toLowerCase() === 'quit') socket.end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake sentinel: no TCP address');

  return {
    port: address.port,
    setMaster: (host, port) => void (current = { host, port }),
    askedCount: () => asked,
    subscribedCount: () => subscribed,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
