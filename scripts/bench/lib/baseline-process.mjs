// The bare baselines (baseline-server.mjs, lib/authorize-baseline-server.mjs) as child processes of
// the bench: started with their settings in the environment, known to listen once they print
// {"port": n}, and never left running after the bench.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { benchEnv } from './nodes.mjs';

/** With --profile the baseline is profiled too, so that it and the node compare frame by frame. */
export function baselineProfiling(ctx, bench) {
  const profiling = ctx.profileDir ? benchEnv(ctx, `${bench}-baseline`) : {};
  return { NODE_OPTIONS: profiling.NODE_OPTIONS, BENCH_CPU_PROFILE_DIR: profiling.BENCH_CPU_PROFILE_DIR };
}

/** Children still running; one exit hook kills them all (one per child would pass Node's listener limit at 32). */
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs `script` with `env` over ours (undefined values left out); `what` names it in the error. */
export async function startBaselineServer(script, env, what) {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${what} exited with ${code} before listening`);
    }),
  ]);
  const { port } = JSON.parse(line);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
