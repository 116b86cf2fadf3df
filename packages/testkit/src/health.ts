import { request } from 'node:http';

/**
 * Whether GET url/health is answered 200 by node `id`: a process that took the port first (another
 * suite's node) answers with its own id, and must not pass for this one. Its own socket each time
 * (agent: false) so no keep-alive pool outlives a test; rejects when nothing answers.
 */
export function healthyAs(url: string, id: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/health`, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(false);
        let node: unknown;
        try {
          node = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { node?: unknown }).node;
        } catch {
          node = undefined;
        }
        resolve(node === undefined || node === id);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}/health: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
