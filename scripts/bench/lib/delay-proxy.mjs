import { connect, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A TCP proxy on 127.0.0.1 in front of a server (slapd in benchmarks/ldap.mjs) that delays every
 * chunk by setDelay(ms) each way. Chunks leave in arrival order whatever the delay was when each
 * came (a queue per direction), so changing the delay mid-stream never reorders the stream.
 */
export async function startDelayProxy(targetPort) {
  let delay = 0;
  const sockets = new Set();
  const pipe = (from, to) => {
    const queue = [];
    let timer;
    const pump = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0].due <= now) to.write(queue.shift().chunk);
      if (queue.length > 0) timer = setTimeout(pump, queue[0].due - now);
    };
    from.on('data', (chunk) => {
      if (delay === 0 && queue.length === 0) return void to.write(chunk);
      queue.push({ due: performance.now() + delay, chunk });
      timer ??= setTimeout(pump, delay);
    });
    from.on('close', () => clearTimeout(timer));
  };
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  return {
    port: server.address().port,
    setDelay: (ms) => void (delay = ms),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
