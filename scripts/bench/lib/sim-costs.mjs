// What the simulation cannot see in simulated time, measured on this machine for the "Scaling
// limits" section of docs/architecture.md: the origin's CPU per ack (decode + HMAC check of a real
// ack frame), the size of one member's stored heartbeat (what every publish's membership read
// returns, per member), and how many ack-sized PUBLISHes one Redis serves per second.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis, repoRoot } from './deps.mjs';
import { protocol, SECRET } from './sim-cluster.mjs';

const fromRoot = createRequire(join(repoRoot, 'package.json'));

/** Microseconds the origin spends decoding and verifying one ack (mean over `count`). */
export function ackDecodeMicros(count) {
  const codec = protocol.createCodec(SECRET);
  const frame = codec.encodeAck({ update_id: randomUUID(), node: 'n00042', ok: true });
  for (let i = 0; i < 1000; i++) codec.decodeAck(frame);
  const t = performance.now();
  let ok = 0;
  for (let i = 0; i < count; i++) if (codec.decodeAck(frame).ok) ok++;
  const us = ((performance.now() - t) * 1000) / count;
  if (ok !== count) throw new Error(`only ${ok} of ${count} ack frames verified`);
  return { us, frameBytes: frame.length };
}

/** Bytes of one member's entry in the members hash (field and stored value), signed by the real codec. */
export function heartbeatBytes() {
  const { HeartbeatCodec } = fromRoot(join(repoRoot, 'packages', 'node', 'dist', 'membership', 'heartbeat-codec.js'));
  const stats = { size: 48213, hits: 1893345, misses: 51277, evictions: 1201, loads: 51277, load_failures: 3 };
  const id = 'node-7f3a9c21';
  const hb = { id, address: 'http://10.12.34.56:8080', applied_seq: 1234567, started: 1764669600000, cache: { credentials: stats, roles: stats, permissions: stats, impersonation: stats } };
  const stored = `ac1|1764669600123|1234567|${new HeartbeatCodec(SECRET).sign(hb)}`;
  return Buffer.byteLength(id) + Buffer.byteLength(stored);
}

/**
 * PUBLISHes per second one Redis serves, pipelined `batch` at a time, of an ack-sized payload to
 * a channel with one subscriber (an origin's ack channel); waits until the subscriber got them all.
 */
export async function redisPublishRate(url, { total, batch, payloadBytes }) {
  const sub = new Redis(url, { lazyConnect: true });
  const pub = new Redis(url, { lazyConnect: true });
  try {
    await Promise.all([sub.connect(), pub.connect()]);
    const channel = `sim-bench:acks:${randomUUID()}`;
    let received = 0;
    let allIn;
    const done = new Promise((resolve) => (allIn = resolve));
    sub.on('messageBuffer', () => ++received === total && allIn());
    await sub.subscribe(channel);
    const payload = Buffer.alloc(payloadBytes, 7);
    const t = performance.now();
    for (let sent = 0; sent < total; sent += batch) {
      const p = pub.pipeline();
      for (let i = 0; i < Math.min(batch, total - sent); i++) p.publish(channel, payload);
      await p.exec();
    }
    let timer;
    const bounded = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the subscriber got ${received} of ${total} messages in 30 s`)), 30_000)));
    await Promise.race([done, bounded]).finally(() => clearTimeout(timer));
    return (total * 1000) / (performance.now() - t);
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
}
