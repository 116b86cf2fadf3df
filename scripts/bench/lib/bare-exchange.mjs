// The floor of a flush round trip: the same exchange as a cluster's, in bare processes. One origin
// (BARE_ROLE=origin) answers any HTTP request once its update went through one script (INCR the
// seq, XADD the frame to a capped log, PUBLISH it) and every member acked; each member
// (BARE_ROLE=member) verifies the frame's HMAC and publishes a signed ack to the origin's channel.
// Frames are JSON plus HMAC-SHA256, as small as a flush's. No framework (node:http, ioredis only),
// no validation, no caches, no membership, no metrics or logs: what any implementation of this
// design pays on this machine. Started by the bench as child processes (baseline-process.mjs);
// each prints {"port": n} on stdout once it listens (a member: once subscribed, port 0).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { Redis } from './deps.mjs';

const { BARE_ROLE: role, BARE_REDIS_URL: url, BARE_CHANNEL: channel, BARE_SECRET: secret, BARE_NODE: node } = process.env;
if (!role || !url || !channel || !secret || !node) {
  process.stderr.write('bare-exchange: BARE_ROLE, BARE_REDIS_URL, BARE_CHANNEL, BARE_SECRET and BARE_NODE are required\n');
  process.exit(2);
}
const MAC = 32;
const acksOf = (origin) => `${channel}:acks:${origin}`;
const seal = (value) => {
  const body = Buffer.from(JSON.stringify(value));
  return Buffer.concat([body, createHmac('sha256', secret).update(body).digest()]);
};
/** The frame's value, or undefined when its HMAC does not match. */
const open = (frame) => {
  const body = frame.subarray(0, frame.length - MAC);
  const ok = timingSafeEqual(createHmac('sha256', secret).update(body).digest(), frame.subarray(frame.length - MAC));
  return ok ? JSON.parse(body.toString()) : undefined;
};

const cmd = new Redis(url);
const sub = new Redis(url);
process.on('SIGTERM', () => {
  cmd.disconnect();
  sub.disconnect();
  process.exit(0);
});

if (role === 'member') {
  sub.on('messageBuffer', (_channel, frame) => {
    const update = open(frame);
    if (update) cmd.publish(acksOf(update.origin), seal({ update_id: update.id, node })).catch(() => undefined);
  });
  await sub.subscribe(channel);
  process.stdout.write(`${JSON.stringify({ port: 0 })}\n`);
} else {
  const members = Number(process.env.BARE_MEMBERS);
  const answer = process.env.BARE_ANSWER ?? '{}';
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(answer) };
  cmd.defineCommand('barePublish', {
    numberOfKeys: 2,
    lua: "local seq = redis.call('INCR', KEYS[1]) redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'm', ARGV[1]) redis.call('PUBLISH', ARGV[2], ARGV[1]) return seq",
  });
  let next = 0;
  /** update id -> what is still awaited and who answers. */
  const waiting = new Map();
  const heard = (id) => {
    const w = waiting.get(id);
    if (w && --w.missing === 0) {
      waiting.delete(id);
      w.res.writeHead(200, headers);
      w.res.end(answer);
    }
  };
  sub.on('messageBuffer', (from, frame) => {
    const value = open(frame);
    if (!value) return;
    // Its own update back (it applies it as every node does), or a member's ack.
    heard(from.toString() === channel ? value.id : value.update_id);
  });
  await sub.subscribe(channel, acksOf(node));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = `${node}-${++next}`;
      waiting.set(id, { missing: members + 1, res });
      cmd.barePublish(`${channel}:seq`, `${channel}:log`, seal({ id, origin: node, ts: Date.now(), kind: 'flush_all', body: {} }), channel).catch((err) => {
        waiting.delete(id);
        res.writeHead(503).end(String(err));
      });
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
}
