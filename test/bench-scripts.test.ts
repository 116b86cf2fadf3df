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

it('reads its options after the `--` that pnpm 10 passes on (pnpm bench -- --help)', () => {
  const r = node(['scripts/bench/index.mjs', '--', '--help']);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toMatch(/^usage: npx -y pnpm@10 bench /);
});

it('the flush warm-up waits out a slow improvement and stops once the latency is flat', () => {
  // A latency that falls from 3 ms to 1.2 ms over the first 3,000 calls (about 3 % per 100 calls
  // near the end, as V8's optimization of a cluster showed), then stays flat.
  const script = `
    import { WARM_CALLS, warmUntilSteady } from './scripts/bench/lib/flush.mjs';
    let i = 0;
    const once = async () => { const x = i++; return x < 3000 ? 3 - 1.8 * (x / 3000) : 1.2; };
    const r = await warmUntilSteady(once, { maxMs: 20000, minCalls: 2000 });
    // By default a flat latency is not enough: the JIT is still at work for thousands of calls more.
    const flat = await warmUntilSteady(async () => 1, { maxMs: 20000 });
    console.log(JSON.stringify({ calls: r.calls, settled: r.settled, first: r.window_p50_ms[0], last: r.window_p50_ms.at(-1), flat: flat.calls, warm: WARM_CALLS }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { calls: number; settled: boolean; first: number; last: number; flat: number; warm: number };
  expect(out.settled).toBe(true);
  expect(out.warm).toBe(10_000);
  expect(out.flat).toBe(out.warm);
  // Not before the slope ends, and soon after: within the 1,000-call look-back plus one window.
  expect(out.calls).toBeGreaterThanOrEqual(3000);
  expect(out.calls).toBeLessThanOrEqual(4100);
  expect(out.first).toBeGreaterThan(2.9);
  expect(out.last).toBe(1.2);
});

it("the flush bench's raw HTTP client reads split and back-to-back answers on one connection, and refuses a chunked one", () => {
  // A server that answers the first request in three writes (status line, headers, body), keeps
  // the connection, and answers the third chunked; the client must see one connection throughout.
  const script = `
    import { createServer } from 'node:net';
    import { rawClient } from './scripts/bench/lib/raw-http.mjs';
    let connections = 0;
    let n = 0;
    const server = createServer((s) => {
      connections++;
      s.on('data', async () => {
        n++;
        const body = JSON.stringify({ n });
        const head = 'HTTP/1.1 200 OK\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n';
        if (n === 1) {
          s.write(head.slice(0, 9));
          await new Promise((r) => setTimeout(r, 20));
          s.write(head.slice(9));
          await new Promise((r) => setTimeout(r, 20));
          s.write(body);
        } else if (n === 2) s.write('HTTP/1.1 503 Service Unavailable\\r\\ncontent-length: ' + body.length + '\\r\\n\\r\\n' + body);
        else s.write('HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\n{}\\r\\n0\\r\\n\\r\\n');
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const client = await rawClient('http://127.0.0.1:' + server.address().port);
    const send = client.prepare('DELETE', '/v1/cache', { authorization: 'Bearer x' });
    const a = await send();
    const b = await send();
    const c = await send().then(() => 'answered', (e) => e.message);
    client.close();
    server.close();
    console.log(JSON.stringify({ a: [a.status, a.body, a.ms > 0], b: [b.status, b.body], c, connections }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({
    a: [200, '{"n":1}', true],
    b: [503, '{"n":2}'],
    c: expect.stringMatching(/without content-length/),
    connections: 1,
  });
});

it("the raw client refuses a send at once on a connection the server closed while it was idle", () => {
  // node:http closes a fresh connection that sent nothing within its request timeout: the bench's
  // next flush must fail with that, not wait out its own 30 s timeout on a dead socket.
  const script = `
    import { createServer } from 'node:net';
    import { once } from 'node:events';
    import { rawClient } from './scripts/bench/lib/raw-http.mjs';
    const server = createServer((s) => setTimeout(() => s.end(), 20));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const client = await rawClient('http://127.0.0.1:' + server.address().port, { timeoutMs: 10000 });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const message = await client.prepare('DELETE', '/v1/cache')().then(() => 'answered', (e) => e.message);
    const ms = Date.now() - t0;
    client.close();
    server.close();
    console.log(JSON.stringify({ message, soon: ms < 5000 }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ message: expect.stringMatching(/connection closed by the server before DELETE \/v1\/cache was sent/), soon: true });
});

it('the bare exchange (the floor of a flush) answers every call, each after its update was published once and acked by every member', () => {
  const script = `
    import { Redis, testkit } from './scripts/bench/lib/deps.mjs';
    import { startBareExchange } from './scripts/bench/lib/bare-floor.mjs';
    import { processCpuNs } from './scripts/bench/lib/cpu-time.mjs';
    const redis = await testkit.startRedis({ preferOwn: true });
    const probe = new Redis(redis.url);
    try {
      const bare = await startBareExchange({ redisUrl: redis.url, size: 3, answer: '{"ok":true}' });
      const pids = [...bare.groups.origin, ...bare.groups.members];
      const before = pids.map((p) => processCpuNs(p));
      let answered = 0;
      try {
        for (let i = 0; i < 40; i++) if ((await bare.once()).ms > 0) answered++;
      } finally {
        await bare.stop();
      }
      const stats = await probe.info('commandstats');
      const count = (cmd) => Number(new RegExp('cmdstat_' + cmd + ':calls=(\\\\d+)').exec(stats)?.[1] ?? 0);
      console.log(JSON.stringify({ answered, publish: count('publish'), incr: count('incr'), xadd: count('xadd'), groups: { origin: bare.groups.origin.length, members: bare.groups.members.length }, read: before.every((b) => b !== undefined) }));
    } finally {
      probe.disconnect();
      await redis.stop();
    }
    process.exit(0);
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { answered: number; publish: number; incr: number; xadd: number; groups: unknown; read: boolean };
  expect(out.answered).toBe(40);
  // One script per update (INCR, XADD, PUBLISH), and one ack PUBLISH from each of the 2 members.
  expect({ incr: out.incr, xadd: out.xadd, publish: out.publish }).toEqual({ incr: 40, xadd: 40, publish: 3 * 40 });
  // The pids by role, for the CPU readings: the origin and both members, each readable.
  expect(out.groups).toEqual({ origin: 1, members: 2 });
  expect(out.read).toBe(process.platform === 'linux');
});

it('measured in blocks: the sides take turns, each gets its calls, its hooks run around each block, and a call not fully acked counts', () => {
  const script = `
    import { measureInBlocks } from './scripts/bench/lib/flush.mjs';
    const trace = [];
    const side = (name, ms, full) => ({
      once: async () => { trace.push(name); return { ms, ...(full === undefined ? {} : { full: full() }) }; },
      before: async () => trace.push(name + '<'),
      after: async () => trace.push('>' + name),
    });
    let n = 0;
    const [a, b] = await measureInBlocks([side('a', 1, () => n++ % 3 !== 0), side('b', 2)], 5, { block: 2 });
    console.log(JSON.stringify({ trace: trace.join(' '), a: [a.histogram.totalCount, a.partial], b: [b.histogram.totalCount, b.partial] }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  // Blocks of 2, 2, then the 1 left, alternating; every block between its side's hooks.
  expect(out.trace).toBe('a< a a >a b< b b >b a< a a >a b< b b >b a< a >a b< b >b');
  // Calls 0 and 3 of side a were not fully acked; side b reports no verdict, so none is partial.
  expect(out.a).toEqual([5, 2]);
  expect(out.b).toEqual([5, 0]);
});

it('CPU readings of several blocks add up to one pair, and a value unreadable in one block stays unreadable', () => {
  const script = `
    import { cpuPerCall, sumReadings } from './scripts/bench/lib/cpu-time.mjs';
    const at = (ms, origin, members, redis) => ({ at: ms, groups: { origin: [origin], members }, redis });
    // Two blocks: 0-100 ms and 500-600 ms; the time between them (the other side's turn) is not counted.
    const { from, to } = sumReadings([
      [at(0, 0, [0, 5], 0), at(100, 3e6, [1e6, 6], 2e6)],
      [at(500, 10e6, [9e6, 7], 9e6), at(600, 13e6, [10e6, undefined], 11e6)],
    ]);
    // 100 calls; the idle window ran at 1 ms of CPU per second for the origin and nothing else.
    const idle = [at(0, 0, [0, 0], 0), at(1000, 1e6, [0, 0], 0)];
    console.log(JSON.stringify({ ms: to.at - from.at, per: cpuPerCall(from, to, 100, idle), none: sumReadings([]).to.redis ?? null }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  expect(out.ms).toBe(200);
  // Origin (3 + 3 ms - 0.2 ms idle) / 100 = 58 µs; Redis (2 + 2 ms) / 100 = 40 µs; the second member unreadable in block 2.
  expect(out.per).toEqual({ groups: { origin: 58, members: null }, redis: 40 });
  expect(out.none).toBeNull();
});

it('CPU per flush: scheduler and Redis readings parse, the idle rate is subtracted, and an unreadable process gives no figure', () => {
  const script = `
    import { cpuPerCall, processCpuNs, redisCpuFromInfo, schedstatNs } from './scripts/bench/lib/cpu-time.mjs';
    // Spin until this process has run 30 ms on a CPU by its own count (getrusage), not for 30 ms of
    // wall time: on a loaded machine 30 ms of wall time can be far less CPU.
    const before = processCpuNs(process.pid);
    const bgBefore = processCpuNs(process.pid, { background: true });
    const used = process.cpuUsage();
    const deadline = Date.now() + 10_000;
    for (;;) { const d = process.cpuUsage(used); if (d.user + d.system >= 30_000 || Date.now() > deadline) break; }
    const after = processCpuNs(process.pid);
    const bgGrew = processCpuNs(process.pid, { background: true }) - bgBefore;
    const at = (ms, origin, members, redis) => ({ at: ms, groups: { origin: [origin], members }, redis });
    // 100 calls over 1 s; the idle window ran at 1 ms of CPU per second per process.
    const idle = [at(0, 0, [0, 0], 0), at(1000, 1e6, [1e6, 1e6], 1e6)];
    const per = cpuPerCall(at(0, 0, [0, 0], 0), at(1000, 51e6, [21e6, 11e6], 31e6), 100, idle);
    const gone = cpuPerCall(at(0, 0, [0, undefined], undefined), at(1000, 1e6, [1e6, 1e6], undefined), 100, idle);
    console.log(JSON.stringify({
      linux: process.platform === 'linux', grew: after - before, bgGrew, gonePid: processCpuNs(2 ** 31 - 1) ?? null,
      line: schedstatNs('123456789 4567 89\\n'),
      redis: redisCpuFromInfo('# CPU\\r\\nused_cpu_sys:1.500000\\r\\nused_cpu_user:0.250000\\r\\n'),
      noRedis: redisCpuFromInfo('# CPU\\r\\n') ?? null, per, gone,
    }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  expect({ line: out.line, redis: out.redis, noRedis: out.noRedis, gonePid: out.gonePid }).toEqual({ line: 123456789, redis: 1.75e9, noRedis: null, gonePid: null });
  // (51 ms - 1 ms idle) / 100 calls = 500 µs; members (200 + 100) / 2 = 150 µs; Redis 300 µs.
  expect(out.per).toEqual({ groups: { origin: 500, members: 150 }, redis: 300 });
  expect(out.gone).toEqual({ groups: { origin: 0, members: null }, redis: null });
  // 30 ms on a CPU by getrusage's count is at least 20 ms read off the scheduler.
  if (out.linux) expect(out.grew).toBeGreaterThan(20e6);
  // The spin ran on the main thread: the other threads (V8's helpers) took a small part of it.
  if (out.linux) expect(out.bgGrew).toBeLessThan(out.grew / 2);
});

it('--profile: profileFromHere returns once every node restarted its sampling, and the profile is written at exit', () => {
  const script = `
    import { spawn } from 'node:child_process';
    import { once } from 'node:events';
    import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    import { profileFromHere } from './scripts/bench/lib/nodes.mjs';
    const root = mkdtempSync(join(tmpdir(), 'bench-profile-test-'));
    const dir = join(root, 'one');
    mkdirSync(dir);
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000); console.log('up')"], {
      env: { ...process.env, NODE_OPTIONS: '--require=./scripts/bench/lib/cpu-profiler.cjs', BENCH_CPU_PROFILE_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout, 'data');
    await profileFromHere({ profileDir: root }, [{ pid: child.pid }]);
    await profileFromHere({ profileDir: root }, [{ pid: child.pid }]);
    const restarts = readFileSync(join(root, child.pid + '.restarted'), 'utf8');
    child.kill('SIGTERM');
    await once(child, 'exit');
    console.log(JSON.stringify({ restarts, profile: existsSync(join(dir, child.pid + '.cpuprofile')) }));
    rmSync(root, { recursive: true, force: true });
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ restarts: '2', profile: true });
});

it("the results' machine line names how idle CPUs wait, when Linux says (the flush round trip follows it)", () => {
  const script = `
    import { machine } from './scripts/bench/lib/machine.mjs';
    import { markdown } from './scripts/bench/lib/report.mjs';
    const m = { ...machine(), date: '2026-12-03T00:00:00Z', load_average_at_start: [0, 0, 0] };
    const line = (idle) => markdown({ machine: { ...m, idle }, benchmarks: [] }).split('\\n')[0];
    console.log(JSON.stringify({ idle: m.idle, vm: line({ cpuidle_driver: 'haltpoll', guest_halt_poll_ns: 0 }), bare: line({ cpuidle_driver: 'intel_idle' }), none: line(null) }));
  `;
  const r = node(['--input-type=module', '-e', script]);
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as { idle: unknown; vm: string; bare: string; none: string };
  expect(out.vm).toMatch(/; idle CPUs: cpuidle haltpoll, guest_halt_poll_ns 0\.$/);
  expect(out.bare).toMatch(/; idle CPUs: cpuidle intel_idle\.$/);
  expect(out.none).toMatch(/load average at start 0 0 0\.$/);
  // Read off this machine: null only where Linux exposes no cpuidle driver.
  if (out.idle !== null) expect(out.idle).toMatchObject({ cpuidle_driver: expect.any(String) });
});
