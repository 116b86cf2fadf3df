// The physical baseline of a cached authorize over HTTP: a bare node:http server doing what a cached
// check must do at the least — read and parse the JSON body, find the user's permission table, look
// the resource and its parents up, answer the same JSON. Started by the authorize bench as a child
// process; prints {"port": n} on stdout once it listens.
import { createServer } from 'node:http';

const { BASELINE_USER, BASELINE_RESOURCE, BASELINE_PERMISSION, BASELINE_VIA = 'baseline' } = process.env;
if (!BASELINE_USER || !BASELINE_RESOURCE || !BASELINE_PERMISSION) {
  process.stderr.write('authorize-baseline-server: BASELINE_USER, BASELINE_RESOURCE and BASELINE_PERMISSION are required\n');
  process.exit(2);
}

const tables = new Map([[BASELINE_USER, new Map([[BASELINE_RESOURCE, new Map([[BASELINE_PERMISSION, BASELINE_VIA]])]])]]);

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function allowedVia(table, resource, permission) {
  for (let r = resource; ; ) {
    const via = table?.get(r)?.get(permission);
    if (via !== undefined) return via;
    const i = r.lastIndexOf('/');
    if (i <= 0) return null;
    r = r.slice(0, i);
  }
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/authorize') return send(res, 404, '{"error":"not found"}');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, '{"error":"malformed JSON body"}');
    }
    const { username, resource, permission } = body ?? {};
    if (typeof username !== 'string' || typeof resource !== 'string' || typeof permission !== 'string') return send(res, 400, '{"error":"username, resource and permission required"}');
    const via = allowedVia(tables.get(username), resource, permission.toUpperCase());
    send(res, 200, JSON.stringify({ allowed: via !== null, cached: true, via }));
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
