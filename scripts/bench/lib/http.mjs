import { Agent, request } from 'node:http';

export function keepAliveAgent(maxSockets = 64) {
  return new Agent({ keepAlive: true, maxSockets });
}

/** One HTTP exchange; resolves { status, body, ms } with ms measured around the whole exchange. */
export function exchange(url, { method = 'GET', headers = {}, body, agent, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const h = { ...headers };
    if (payload !== undefined) {
      h['content-type'] ??= 'application/json';
      h['content-length'] = Buffer.byteLength(payload);
    }
    const started = process.hrtime.bigint();
    const req = request(url, { method, headers: h, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function getText(url, agent) {
  const r = await exchange(url, { agent });
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return r.body;
}

export async function json(url, opts = {}) {
  const r = await exchange(url, opts);
  let parsed;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    parsed = undefined;
  }
  return { ...r, json: parsed };
}

/** Runs `work(item)` over `items` with at most `width` in flight; onDone(count) after each. */
export async function pool(items, width, work, onDone) {
  let next = 0;
  let done = 0;
  const results = new Array(items.length);
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i], i);
      done++;
      onDone?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}
