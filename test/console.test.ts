/**
 * The operator's console in a real browser (Debian's chromium through playwright-core) against 3
 * real nodes: sign in, the members live from the event stream, a killed node turning DOWN within
 * the heartbeat bound, a flush with its per-node result, the audit trail with who did it. Every
 * wait polls the page's DOM against a deadline; none sleeps.
 */

import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { useCluster } from './support';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** A member is DOWN 3 heartbeats + 500 ms after its last one (1 s heartbeats); the page adds the hub's 250 ms read; a busy CI machine the rest. */
const DOWN_BOUND_MS = 3 * 1000 + 500 + 250 + 2000;

// Checked before anything starts, so a machine without chromium gets one failure with one line.
if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);

const s = useCluster();
const OPS = { name: 'ops', password: 'ops-console-pw-1' };
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];
const requested: string[] = [];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  await s.clients[0]!.putRole(OPS.name, { password: OPS.password, login: true, superuser: true });
  await s.clients[0]!.putRole('erin', { password: 'erin-pw-123', login: true });
  context = await browser.newContext();
  page = await context.newPage();
  // CSP violations and script errors show as console errors: any of them fails the suite.
  page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => requested.push(r.url()));
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const text = (sel: string) => page.locator(sel).innerText();
/** Polls the DOM until `sel`'s text matches, or fails after `timeoutMs` saying what it last saw. */
async function textMatches(sel: string, re: RegExp, timeoutMs = 10_000): Promise<string> {
  try {
    // innerText, as a person reads it: table cells apart, hidden parts left out. (The test's tsconfig has no DOM types.)
    const shows = ([q, src, flags]: readonly [string, string, string]) => new RegExp(src, flags).test((globalThis as any).document.querySelector(q)?.innerText ?? '');
    await page.waitForFunction(shows, [sel, re.source, re.flags] as const, {
      timeout: timeoutMs,
      polling: 50,
    });
  } catch {
    throw new Error(`${sel} did not match ${re} within ${timeoutMs} ms; it shows: ${JSON.stringify(await page.locator(sel).innerText({ timeout: 1000 }).catch(() => null))}`);
  }
  return text(sel);
}
/** Items in the tab's sessionStorage (the test's tsconfig has no DOM types). */
const stored = (p: Page) => p.evaluate(() => (globalThis as any).sessionStorage.length as number);
const statusOf = (i: number) => `#members tbody tr[data-node="${s.nodes[i]!.id}"] td.status`;

async function confirmed(button: string): Promise<void> {
  await page.click(button);
  await page.locator('#confirm[open]').waitFor();
  await page.click('#confirm-ok');
}

it('serves the page with a strict CSP and refuses a wrong sign-in without keeping anything', async () => {
  const res = await page.goto(`${s.nodes[0]!.url}/console`);
  expect(res?.status()).toBe(200);
  const csp = res!.headers()['content-security-policy']!;
  expect(csp).toContain("default-src 'self'");
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  await page.check('input[name=mode][value=basic]');
  await page.fill('#username', OPS.name);
  await page.fill('#password', 'not-the-password');
  await page.click('#signin-button');
  await textMatches('#signin-error', /Sign-in refused: invalid credentials/);
  expect(await stored(page)).toBe(0);
  // A superuser is needed, not just a valid login.
  await page.fill('#username', 'erin');
  await page.fill('#password', 'erin-pw-123');
  await page.click('#signin-button');
  await textMatches('#signin-error', /superuser status required/);
});

it('signs in with a superuser\'s name and password and shows 3 members UP, live', async () => {
  await page.fill('#username', OPS.name);
  await page.fill('#password', OPS.password);
  await page.click('#signin-button');
  await textMatches('#who', /Signed in as role:ops · on node-/);
  for (let i = 0; i < 3; i++) await textMatches(statusOf(i), /^UP$/);
  await textMatches('#members-summary', /3 of 3 up/);
  await textMatches('#conn', /live/);
  await textMatches('#settings tbody', /credentials/);
  // The password stays out of every URL; it is in this tab's session storage only.
  expect(requested.filter((u) => u.includes(OPS.password) || u.includes(encodeURIComponent(OPS.password)))).toEqual([]);
  expect(page.url()).not.toContain(OPS.password);
  expect(await page.evaluate(() => Object.keys((globalThis as any).sessionStorage))).toEqual(['authcache.console.credentials']);
  expect(await page.evaluate(() => (globalThis as any).document.cookie)).toBe('');
});

it('flushes a user behind a confirmation and shows 3/3 nodes', async () => {
  await page.fill('#flush-user', 'alice');
  // Cancelled: nothing is sent.
  await page.click('#flush-user-form button');
  await page.locator('#confirm[open]').waitFor();
  await page.click('#confirm-cancel');
  expect(await page.locator('#confirm[open]').count()).toBe(0);
  expect(await text('#result')).toBe('');
  await confirmed('#flush-user-form button');
  await textMatches('#result', /^Flush alice: 3\/3 nodes \(seq \d+\)$/);
});

it('turns a killed node DOWN within the heartbeat bound', async () => {
  const t0 = Date.now();
  await s.nodes[2]!.kill();
  await textMatches(statusOf(2), /^DOWN$/, DOWN_BOUND_MS);
  expect(Date.now() - t0).toBeLessThan(DOWN_BOUND_MS);
  await textMatches('#members-summary', /2 of 3 up/);
});

it('flushes a user with a node down and names the node that failed', async () => {
  await page.fill('#flush-user', 'bob');
  await confirmed('#flush-user-form button');
  const result = await textMatches('#result', /Flush bob: 2\/3 nodes; FAILED/);
  expect(result).toContain(`FAILED ${s.nodes[2]!.id}: down`);
});

it('changes the TTL of one cache behind a confirmation, and shows it in the settings', async () => {
  await page.selectOption('#ttl-cache', 'roles');
  await page.fill('#ttl-ms', '1800000');
  await confirmed('#ttl-form button');
  await textMatches('#result', /Change TTL: 2\/3 nodes; FAILED/);
  await textMatches('#settings tbody tr[data-cache="roles"]', /roles\s+1800000/);
});

it('shows the flushes in the audit trail with the signed-in identity and their per-node result', async () => {
  await textMatches('#audit tbody', /flush_user\s+bob \(all caches\)/);
  // Cell by cell, read in one go: the table is re-rendered as entries arrive.
  const rows: string[][] = await page.$$eval('#audit tbody tr', (trs) => trs.map((tr: any) => [...tr.cells].map((td: any) => td.textContent as string)));
  const row = (target: string) => rows.find((r) => r[3] === 'flush_user' && r[4] === target);
  // Time, actor, address, action, target, seq, status, nodes.
  expect(row('bob (all caches)')?.slice(1)).toEqual(['role:ops', '127.0.0.1', 'flush_user', 'bob (all caches)', expect.stringMatching(/^\d+$/), '200', `2/3 (FAILED ${s.nodes[2]!.id}: down)`]);
  expect(row('alice (all caches)')?.slice(1)).toEqual(['role:ops', '127.0.0.1', 'flush_user', 'alice (all caches)', expect.stringMatching(/^\d+$/), '200', '3/3']);
  // The refused sign-ins are there too: that is what an incident review looks for.
  expect(rows.some((r) => r[1] === 'role:erin' && r[3] === 'read' && r[4] === '/v1/cluster/nodes' && r[6] === '403')).toBe(true);
});

it('keeps the session across a reload, signs in with the admin token in another tab, and forgets on sign-out', async () => {
  await page.reload();
  await textMatches('#who', /Signed in as role:ops/);
  const other = await context.newPage();
  try {
    await other.goto(`${s.nodes[1]!.url}/console`);
    expect(await stored(other)).toBe(0);
    await other.fill('#token', s.token);
    await other.click('#signin-button');
    await other.locator('#who', { hasText: 'Signed in as token' }).waitFor({ timeout: 10_000 });
  } finally {
    await other.close();
  }
  expect(requested.filter((u) => u.includes(s.token))).toEqual([]);
  await page.click('#signout');
  await textMatches('#signin-error', /Signed out/);
  expect(await stored(page)).toBe(0);
  expect(await page.locator('#app').isHidden()).toBe(true);
});

it('ran without a script error or a CSP violation', () => {
  expect(problems).toEqual([]);
});
