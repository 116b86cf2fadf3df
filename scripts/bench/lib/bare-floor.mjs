// The floor of a flush round trip, measured: the same exchange in bare processes (bare-exchange.mjs:
// one origin, size - 1 members, the same Redis), through the same raw client as the cluster's
// flushes, warmed up the same way and measured in turns with them (flush.mjs, measureInBlocks).
// What is left between the two is authcache's own work.
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaselineServer } from './baseline-process.mjs';
import { rawClient } from './raw-http.mjs';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'bare-exchange.mjs');

/**
 * Starts the bare exchange of `size` processes answering `answer`; resolves { once, groups, stop }:
 * `once()` one round trip, resolving { ms }; `groups` the pids by role for cpu-time.mjs
 * ({ origin: [pid], members: [pid, ...] }); `stop()` ends the processes.
 */
export async function startBareExchange({ redisUrl, size, answer }) {
  const common = { BARE_REDIS_URL: redisUrl, BARE_CHANNEL: `bench-bare-${randomBytes(4).toString('hex')}`, BARE_SECRET: randomBytes(24).toString('base64url') };
  const started = [];
  const stop = async () => void (await Promise.allSettled(started.map((s) => s.stop())));
  try {
    for (let i = 2; i <= size; i++) started.push(await startBaselineServer(SCRIPT, { ...common, BARE_ROLE: 'member', BARE_NODE: `m${i}` }, `bare member ${i}`));
    const origin = await startBaselineServer(SCRIPT, { ...common, BARE_ROLE: 'origin', BARE_NODE: 'm1', BARE_MEMBERS: String(size - 1), BARE_ANSWER: answer }, 'the bare origin');
    started.push(origin);
    const client = await rawClient(origin.url);
    const send = client.prepare('DELETE', '/v1/cache');
    return {
      async once() {
        const r = await send();
        if (r.status !== 200) throw new Error(`bare exchange: HTTP ${r.status} ${r.body.slice(0, 200)}`);
        return { ms: r.ms };
      },
      groups: { origin: [origin.pid], members: started.slice(0, -1).map((s) => s.pid) },
      async stop() {
        client.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
