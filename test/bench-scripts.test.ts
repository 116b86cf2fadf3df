/**
 * The bench scripts load and their warm-up rule holds (scripts/bench; README "Performance"). The
 * bench itself is not a test; this only keeps a broken module or a warm-up that stops on a slope
 * from reaching the committed results unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 30_000 });

it('pnpm bench --help loads every benchmark module and prints the usage', () => {
  const r = node(['scripts/bench/index.mjs', '--help']);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toMatch(/^usage: npx -y pnpm@10 bench /);
});

it('the flush warm-up waits out a slow improvement and stops once the latency is flat', () => {
  // A latency that falls from 3 ms to 1.2 ms over the first 3,000 calls (about 3 % per 100 calls
  // near the end, as V8's optimization of a cluster showed), then stays flat.
  const script = `
    import { warmUntilSteady } from './scripts/bench/lib/flush.mjs';
    let i = 0;
    const once = async () => { const x = i++; return x < 3000 ? 3 - 1.8 * (x / 3000) : 1.2; };
    const r = await warmUntilSteady(once, { maxMs: 20000 });
    console.log(JSON.stringify({ calls: r.calls, settled: r.settled, first: r.window_p50_ms[0], last: r.window_p50_ms.at(-1) }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { calls: number; settled: boolean; first: number; last: number };
  expect(out.settled).toBe(true);
  // Not before the slope ends, and soon after: within the 1,000-call look-back plus one window.
  expect(out.calls).toBeGreaterThanOrEqual(3000);
  expect(out.calls).toBeLessThanOrEqual(4100);
  expect(out.first).toBeGreaterThan(2.9);
  expect(out.last).toBe(1.2);
});
