// The physical baseline of a cached login: a bare node:http server doing what a cached login must do
// at the least — read and parse the JSON body, find the user, HMAC-SHA256 the password under a
// per-process key and compare it in constant time with the stored verifier, answer the same JSON.
// Started by the bench as a child process; prints {"port": n} on stdout once it listens.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { send, serveJsonPost } from './lib/bare-json-server.mjs';

const { BASELINE_USER, BASELINE_PASSWORD, BASELINE_ROLES = '[]', BASELINE_NODE = 'baseline' } = process.env;
if (!BASELINE_USER || !BASELINE_PASSWORD) {
  process.stderr.write('baseline-server: BASELINE_USER and BASELINE_PASSWORD are required\n');
  process.exit(2);
}

const key = randomBytes(32);
const users = new Map([[BASELINE_USER, { verifier: createHmac('sha256', key).update(BASELINE_PASSWORD).digest(), roles: JSON.parse(BASELINE_ROLES) }]]);
const INVALID = JSON.stringify({ error: 'invalid credentials' });

serveJsonPost('/v1/login', (body, res) => {
  const { username, password } = body ?? {};
  if (typeof username !== 'string' || typeof password !== 'string') return send(res, 400, '{"error":"username and password required"}');
  const user = users.get(username);
  const mac = createHmac('sha256', key).update(password).digest();
  if (!user || !timingSafeEqual(user.verifier, mac)) return send(res, 401, INVALID);
  send(res, 200, JSON.stringify({ username, roles: user.roles, superuser: false, cached: true, node: BASELINE_NODE }));
});
