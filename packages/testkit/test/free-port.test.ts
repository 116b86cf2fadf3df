/**
 * freePort's machine-wide registry (src/free-port.ts): a port handed out to one process is not
 * handed to another for 30 minutes, since the first one's clients and Sentinels still use it.
 * The kernel is a list of offers here; the registry is a real directory, as the one other
 * processes share.
 */
import { accessSync, constants, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort, pickPort } from '../src/free-port';

const offers = (...ports: number[]) => {
  const queue = [...ports];
  return async () => {
    const p = queue.shift();
    if (p === undefined) throw new Error('no more offers');
    return p;
  };
};

let registry: string;
beforeEach(() => (registry = mkdtempSync(join(tmpdir(), 'authcache-port-registry-'))));
afterEach(() => rmSync(registry, { recursive: true, force: true }));

it('skips a port another process was handed recently, and takes the next one', async () => {
  writeFileSync(join(registry, '40001'), '');
  expect(await pickPort(offers(40001, 40002), registry)).toBe(40002);
  expect(readdirSync(registry).sort()).toEqual(['40001', '40002']);
});

it('takes a port again once its entry is older than 30 minutes', async () => {
  const file = join(registry, '40011');
  writeFileSync(file, '');
  const old = (Date.now() - 31 * 60_000) / 1000;
  utimesSync(file, old, old);
  expect(await pickPort(offers(40011), registry)).toBe(40011);
  // Taken afresh, in the registry itself (not only in this process's own count), and nothing left aside.
  expect(Date.now() - statSync(file).mtimeMs).toBeLessThan(60_000);
  expect(readdirSync(registry)).toEqual(['40011']);
});

it('never hands the same port out twice, in this process or to another', async () => {
  expect(await pickPort(offers(40021), registry)).toBe(40021);
  expect(await pickPort(offers(40021, 40022), registry)).toBe(40022);
});

it('says so when every offer is taken', async () => {
  writeFileSync(join(registry, '40031'), '');
  await expect(pickPort(async () => 40031, registry)).rejects.toThrow(/kept offering ports handed out in the last 30 min/);
});

it('a port one process was handed is refused to another process', async () => {
  const port = await pickPort(offers(40051), registry);
  // The child is offered nothing but this port, through the built testkit (what node processes and scripts load).
  const dist = join(__dirname, '..', 'dist', 'free-port.js');
  const child = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(dist)}).pickPort(async () => ${port}, ${JSON.stringify(registry)}).then((p) => console.log('got', p), (e) => console.log(e.message))`],
    { encoding: 'utf8' },
  );
  expect(child.stdout).toMatch(/kept offering ports handed out/);
});

it('freePort registers in the machine-wide registry (when this user can write it)', async () => {
  const shared = join(tmpdir(), 'authcache-ports');
  const port = await freePort();
  let writable = true;
  try {
    accessSync(shared, constants.W_OK);
  } catch {
    writable = false;
  }
  if (writable) expect(readdirSync(shared)).toContain(String(port));
  else expect(port).toBeGreaterThan(0);
});

it('keeps count alone when the registry cannot be written (no error, no shared entry)', async () => {
  const file = join(registry, 'not-a-dir');
  writeFileSync(file, '');
  // A path under a regular file can be neither created nor written.
  expect(await pickPort(offers(40041), join(file, 'ports'))).toBe(40041);
});
