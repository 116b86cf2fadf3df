// The physical baseline of a cached authorize over HTTP: a bare node:http server doing what a cached
// check must do at the least — read and parse the JSON body, find the user's permission table, look
// the resource and its parents up, answer the same JSON. Started by the authorize bench as a child
// process; prints {"port": n} on stdout once it listens.
import { send, serveJsonPost } from './bare-json-server.mjs';

const { BASELINE_USER, BASELINE_RESOURCE, BASELINE_PERMISSION, BASELINE_VIA = 'baseline' } = process.env;
if (!BASELINE_USER || !BASELINE_RESOURCE || !BASELINE_PERMISSION) {
  process.stderr.write('authorize-baseline-server: BASELINE_USER, BASELINE_RESOURCE and BASELINE_PERMISSION are required\n');
  process.exit(2);
}

const tables = new Map([[BASELINE_USER, new Map([[BASELINE_RESOURCE, new Map([[BASELINE_PERMISSION, BASELINE_VIA]])]])]]);

function allowedVia(table, resource, permission) {
  for (let r = resource; ; ) {
    const via = table?.get(r)?.get(permission);
    if (via !== undefined) return via;
    const i = r.lastIndexOf('/');
    if (i <= 0) return null;
    r = r.slice(0, i);
  }
}

serveJsonPost('/v1/authorize', (body, res) => {
  const { username, resource, permission } = body ?? {};
  if (typeof username !== 'string' || typeof resource !== 'string' || typeof permission !== 'string') return send(res, 400, '{"error":"username, resource and permission required"}');
  const via = allowedVia(tables.get(username), resource, permission.toUpperCase());
  send(res, 200, JSON.stringify({ allowed: via !== null, cached: true, via }));
});
