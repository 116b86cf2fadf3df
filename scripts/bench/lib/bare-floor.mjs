// The floor of a flush round trip, measured: the same exchange in bare processes (bare-exchange.mjs:
// one origin, size - 1 members, the same Redis), through the same raw client as the cluster's
// flushes, warmed up the same way. What is left between the two is authcache's own work.
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaselineServer } from './baseline-process.mjs';
import { cpuReading } from './cpu-time.mjs';
import { Redis } from './deps.mjs';
import { warmUntilSteady } from './flush.mjs';
import { rawClient } from './raw-http.mjs';
import { latencyHistogram, recordMs } from './stats.mjs';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'bare-exchange.mjs');

/**
 * Resolves { histogram, warmup, cpu } of `calls` round trips after the warm-up `steady`
 * (warmUntilSteady's options); cpu is the pair of readings (cpu-time.mjs) around the measured calls:
 * groups origin and members, and Redis.
 */
export async function bareExchangeLoop({ redisUrl, size, answer, calls, steady }) {
  const common = { BARE_REDIS_URL: redisUrl, BARE_CHANNEL: `bench-bare-${randomBytes(4).toString('hex')}`, BARE_SECRET: randomBytes(24).toString('base64url') };
  const started = [];
  try {
    for (let i = 2; i <= size; i++) started.push(await startBaselineServer(SCRIPT, { ...common, BARE_ROLE: 'member', BARE_NODE: `m${i}` }, `bare member ${i}`));
    const origin = await startBaselineServer(SCRIPT, { ...common, BARE_ROLE: 'origin', BARE_NODE: 'm1', BARE_MEMBERS: String(size - 1), BARE_ANSWER: answer }, 'the bare origin');
    started.push(origin);
    const client = await rawClient(origin.url);
    // Redis's own CPU (INFO cpu) around the measured calls, on a connection of its own.
    const info = new Redis(redisUrl);
    try {
      const send = client.prepare('DELETE', '/v1/cache');
      const once = async () => {
        const r = await send();
        if (r.status !== 200) throw new Error(`bare exchange: HTTP ${r.status} ${r.body.slice(0, 200)}`);
        return r.ms;
      };
      const warmup = await warmUntilSteady(once, steady);
      const groups = { origin: [origin.pid], members: started.slice(0, -1).map((s) => s.pid) };
      const from = await cpuReading(groups, info);
      const histogram = latencyHistogram();
      for (let i = 0; i < calls; i++) recordMs(histogram, await once());
      const to = await cpuReading(groups, info);
      return { histogram, warmup, cpu: { from, to } };
    } finally {
      client.close();
      info.disconnect();
    }
  } finally {
    await Promise.allSettled(started.map((s) => s.stop()));
  }
}
