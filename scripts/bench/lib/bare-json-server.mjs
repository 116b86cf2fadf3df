// What the bare baselines (baseline-server.mjs, lib/authorize-baseline-server.mjs) share: a
// node:http server that reads and parses a JSON POST to one path, the least any server must do
// before its own work, then tells the bench its port by printing {"port": n} on stdout.
import { createServer } from 'node:http';

export function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves POST `path` with `answer(body, res)` (404 elsewhere, 400 for a body that is not JSON). */
export function serveJsonPost(path, answer) {
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== path) return send(res, 404, '{"error":"not found"}');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, '{"error":"malformed JSON body"}');
      }
      answer(body, res);
    });
  });
  // Node's default keep-alive timeout (5 s) as fastify's; the bench's connections never sit idle that long.
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
