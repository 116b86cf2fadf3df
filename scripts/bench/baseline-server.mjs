// The physical baseline of a cached login: a bare node:http server doing what a cached login must do
// at the least — read and parse the JSON body, find the user, HMAC-SHA256 the password under a
// per-process key and compare it in constant time with the stored verifier, answer the same JSON.
// Started by the bench as a child process; prints {"port": n} on stdout once it listens.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const { BASELINE_USER, BASELINE_PASSWORD, BASELINE_ROLES = '[]', BASELINE_NODE = 'baseline' } = process.env;
if (!BASELINE_USER || !BASELINE_PASSWORD) {
  process.stderr.write('baseline-server: BASELINE_USER and BASELINE_PASSWORD are required\n');
  process.exit(2);
}

const key = randomBytes(32);
const users = new Map([[BASELINE_USER, { verifier: createHmac('sha256', key).update(BASELINE_PASSWORD).digest(), roles: JSON.parse(BASELINE_ROLES) }]]);
const INVALID = JSON.stringify({ error: 'invalid credentials' });

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/login') return send(res, 404, '{"error":"not found"}');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, '{"error":"malformed JSON body"}');
    }
    const { username, password } = body ?? {};
    if (typeof username !== 'string' || typeof password !== 'string') return send(res, 400, '{"error":"username and password required"}');
    const user = users.get(username);
    const mac = createHmac('sha256', key).update(password).digest();
    if (!user || !timingSafeEqual(user.verifier, mac)) return send(res, 401, INVALID);
    send(res, 200, JSON.stringify({ username, roles: user.roles, superuser: false, cached: true, node: BASELINE_NODE }));
  });
});
// Node's default keep-alive timeout (5 s) as fastify's; the bench's connections never sit idle that long.
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
