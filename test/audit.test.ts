/**
 * The audit trail and the live events against 3 real nodes (docs/architecture.md, "Audit and events"): every admin change and
 * every refused admin call recorded once, by the node that answered, in one cluster-wide stream;
 * never a secret; bad parameters are clear 400s; events show members, applied seqs and audit
 * entries as they happen; open streams neither exceed their bound nor hold a shutdown.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startNode } from '@authcache/testkit';
import { ALL_OK, call, useCluster, waitFor } from './support';
import { CLI, execIn, shellEnv } from './support/cli';

const s = useCluster({ env: { AUTHCACHE_AUDIT_MAX_LEN: '40', AUTHCACHE_EVENTS_MAX_CLIENTS: '3' } });
const url = (i: number) => s.nodes[i]!.url;
const audit = async (i: number, query = '') => (await call(url(i), 'GET', `/v1/audit${query}`, { token: s.token })).json as any[];
const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });

/** Entries the cluster recorded for `target`, read on node 0 (any node sees them all). */
async function recorded(target: string, expected: number): Promise<any[]> {
  let found: any[] = [];
  await waitFor(async () => (found = (await audit(0, '?limit=1000')).filter((e) => e.target === target)).length >= expected, { timeoutMs: 5000 });
  return found;
}

interface Stream {
  events: Array<{ event: string; data: any }>;
  until(pred: (e: { event: string; data: any }) => boolean, timeoutMs?: number): Promise<{ event: string; data: any }>;
  ended: Promise<void>;
  close(): void;
}

async function events(base: string, headers: Record<string, string> = { authorization: `Bearer ${s.token}` }): Promise<Stream & { status: number }> {
  const ctl = new AbortController();
  const res = await fetch(`${base}/v1/events`, { headers, signal: ctl.signal });
  const list: Stream['events'] = [];
  const waiters = new Set<() => void>();
  let ended: Promise<void> = Promise.resolve();
  if (res.ok && res.body) {
    ended = (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) list.push({ event, data: JSON.parse(data) });
            for (const w of waiters) w();
          }
        }
      } catch {
        // aborted by close()
      }
    })();
  } else await res.text();
  return {
    status: res.status,
    events: list,
    ended,
    close: () => ctl.abort(),
    until(pred, timeoutMs = 8000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = list.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(hit);
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(list.map((e) => e.event))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

beforeAll(async () => {
  await s.clients[0]!.putRole('root', { password: 'root-pw-123', login: true, superuser: true });
  await s.clients[0]!.putRole('bob', { password: 'bob-pw-123', login: true });
});

describe('the audit trail', () => {
  it('records each admin change once, cluster-wide, with the seq and per-node result of its answer', async () => {
    const flush = await call(url(1), 'DELETE', '/v1/cache/users/audit-alice', { token: s.token });
    expect(flush.status).toBe(200);
    const [e] = await recorded('audit-alice (all caches)', 1);
    expect(e).toMatchObject({ actor: 'token', address: '127.0.0.1', action: 'flush_user', seq: flush.json.seq, status: 200, nodes: ALL_OK });
    expect(new Date(e.ts).toISOString()).toBe(e.ts);
    // Every node reads the same trail, and the entry was written once (by node 1, which answered).
    for (const i of [1, 2]) expect((await audit(i, '?limit=1000')).filter((x) => x.target === e.target)).toHaveLength(1);
    const lines = s.nodes.map((n) => n.logs().split('\n').filter((l) => l.includes('"msg":"admin call"') && l.includes('audit-alice')).length);
    expect(lines).toEqual([0, 1, 0]);
  });

  it('records who, by superuser name, and settings and role changes without a secret', async () => {
    const ttl = await call(url(2), 'PUT', '/v1/cache/settings', { headers: basic('root', 'root-pw-123'), json: { cache: 'roles', ttl_ms: 3_500_000 } });
    expect(ttl.status).toBe(200);
    const role = await call(url(0), 'PUT', '/v1/roles/audit-carol', { token: s.token, json: { password: 'carol-SECRET-pw', login: true } });
    expect(role.status).toBe(201);
    const [set] = await recorded('roles ttl_ms=3500000', 1);
    expect(set).toMatchObject({ actor: 'role:root', action: 'set_settings', seq: ttl.json.seq, nodes: ALL_OK });
    const [put] = await recorded('audit-carol (password set, login=true)', 1);
    expect(put).toMatchObject({ actor: 'token', action: 'put_role', status: 201, seq: role.json.seq });
    const raw = new Redis(s.redis.url);
    try {
      const stream = JSON.stringify(await raw.xrange(`${s.cluster.cluster}:audit`, '-', '+'));
      for (const secret of ['carol-SECRET-pw', 'root-pw-123', s.token]) expect(stream).not.toContain(secret);
      for (const n of s.nodes) expect(n.logs()).not.toContain('carol-SECRET-pw');
    } finally {
      raw.disconnect();
    }
  });

  it('records refused calls, on reads too, and neither successful reads nor reads of the audit', async () => {
    const before = (await audit(0, '?limit=1000')).length;
    expect((await call(url(0), 'GET', '/v1/roles')).status).toBe(401);
    expect((await call(url(0), 'DELETE', '/v1/cache', { token: 'wrong-token' })).status).toBe(403);
    expect((await call(url(1), 'GET', '/v1/audit', { headers: basic('bob', 'bob-pw-123') })).status).toBe(403);
    expect((await call(url(2), 'GET', '/v1/roles', { headers: basic('root', 'wrong') })).status).toBe(401);
    for (let i = 0; i < 3; i++) {
      await call(url(0), 'GET', '/v1/roles', { token: s.token });
      await audit(i);
    }
    await waitFor(async () => (await audit(0, '?limit=1000')).length === before + 4, { timeoutMs: 5000 });
    const newest = (await audit(0, '?limit=4')).map((e) => [e.actor, e.action, e.target, e.status]);
    // Each node writes its entry after answering, so entries of different nodes may land in either
    // order (CI saw node 0's and node 1's swap); one node's own entries keep their order.
    const byText = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(byText(newest)).toEqual(
      byText([
        ['role:root', 'read', '/v1/roles', 401],
        ['role:bob', 'read', '/v1/audit', 403],
        ['token', 'flush_all', 'all caches', 403],
        ['anonymous', 'read', '/v1/roles', 401],
      ]),
    );
    const at = (actor: string) => newest.findIndex((r) => r[0] === actor);
    expect(at('token')).toBeLessThan(at('anonymous')); // node 0: the flush came after the anonymous read (newest first)
    expect(JSON.stringify(newest)).not.toContain('wrong-token');
  });

  it('answers bad since and limit with a clear 400, and filters by time', async () => {
    for (const [q, msg] of [
      ['?limit=0', /limit must be a whole number from 1 to 1000/],
      ['?limit=99999999999999999999999', /limit must be/],
      ['?limit=abc', /limit must be/],
      ['?since=yesterday', /since must be an ISO 8601 time/],
      ['?since=2026-12-01T10:00', /no time zone/],
      [`?since=${'9'.repeat(5000)}`, /since must be/],
      ['?limit=1&limit=2', /more than once/],
      ['?from=1h', /unknown parameter "from"/],
    ] as const) {
      const r = await call(url(0), 'GET', `/v1/audit${q}`, { token: s.token });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatch(msg);
    }
    expect(await audit(0, `?since=${Date.now() + 60_000}`)).toEqual([]);
    expect((await audit(0, '?since=1h&limit=2')).length).toBe(2);
    expect((await audit(0, `?since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).length).toBeGreaterThan(2);
  });

  it('authctl audit prints the trail one line per entry, --json as it came, and needs the admin token', async () => {
    const flush = await call(url(2), 'DELETE', '/v1/cache/users/audit-cli', { token: s.token });
    expect(flush.status).toBe(200);
    await recorded('audit-cli (all caches)', 1);
    const env = shellEnv(s.token, { AUTHCACHE_URL: url(0) });
    const text = await execIn(env, process.execPath, [CLI, 'audit', '--since', '1h', '--limit', '1000']);
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => l.includes('audit-cli'));
    expect(line).toMatch(new RegExp(`^\\S+Z  token  127\\.0\\.0\\.1  flush_user  audit-cli \\(all caches\\)  seq=${flush.json.seq}  200  nodes=3/3$`));
    const json = await execIn(env, process.execPath, [CLI, '--json', 'audit', '--limit', '5']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as unknown[];
    expect(parsed.length).toBeGreaterThan(0);
    expect(parsed.length).toBeLessThanOrEqual(5);
    const refused = await execIn(shellEnv('wrong-token', { AUTHCACHE_URL: url(0) }), process.execPath, [CLI, 'audit']);
    expect(refused.code).toBe(1);
    expect((await execIn(env, process.execPath, [CLI, 'audit', '--limit', 'many'])).code).toBe(2);
  });

  it('is bounded by AUTHCACHE_AUDIT_MAX_LEN', async () => {
    for (let i = 0; i < 45; i++) expect((await call(url(i % 3), 'DELETE', `/v1/cache/users/bulk${i}?local=true`, { token: s.token })).status).toBe(200);
    // Each node writes its entries in order, but after answering: two nodes' entries may land in
    // either order. Once each node's last one (bulk42, bulk43, bulk44) is in, all 45 are written.
    const last = ['bulk42', 'bulk43', 'bulk44'].map((u) => `${u} (all caches) [local]`);
    let trail: any[] = [];
    await waitFor(async () => {
      trail = await audit(0, '?limit=1000');
      return last.every((t) => trail.some((e) => e.target === t));
    }, { timeoutMs: 5000 });
    expect(trail.length).toBe(40);
  });
});

describe('live events', () => {
  it('starts with who the caller is and the current members, then brings applied seqs and audit entries from any node', async () => {
    const st = await events(url(0), basic('root', 'root-pw-123'));
    try {
      expect(st.status).toBe(200);
      expect((await st.until((e) => e.event === 'hello')).data).toMatchObject({ node: s.nodes[0]!.id, actor: 'role:root' });
      await st.until((e) => e.event === 'sync' && e.data.in_sync === true);
      for (const n of s.nodes) await st.until((e) => e.event === 'member' && e.data.node === n.id && e.data.status === 'UP');
      const flush = await call(url(2), 'DELETE', '/v1/cache/users/live-dave', { token: s.token });
      const a = await st.until((e) => e.event === 'audit' && e.data.target === 'live-dave (all caches)');
      expect(a.data).toMatchObject({ actor: 'token', seq: flush.json.seq, nodes: ALL_OK });
      for (const n of s.nodes) await st.until((e) => e.event === 'applied' && e.data.node === n.id && e.data.seq === flush.json.seq);
    } finally {
      st.close();
    }
  });

  it('refuses callers without admin rights, and streams beyond the bound', async () => {
    expect((await events(url(0), {})).status).toBe(401);
    expect((await events(url(0), basic('bob', 'bob-pw-123'))).status).toBe(403);
    const open = [await events(url(1)), await events(url(1)), await events(url(1))];
    try {
      for (const st of open) await st.until((e) => e.event === 'hello');
      const extra = await events(url(1));
      expect(extra.status).toBe(503);
      const metrics = (await call(url(1), 'GET', '/metrics')).text;
      expect(metrics).toMatch(/^authcache_events_clients 3$/m);
      expect(metrics).toMatch(/^authcache_audit_write_errors_total 0$/m);
    } finally {
      for (const st of open) st.close();
    }
    await waitFor(async () => /^authcache_events_clients 0$/m.test((await call(url(1), 'GET', '/metrics')).text), { timeoutMs: 5000 });
  });

  it('turns a killed member DOWN within the heartbeat bound, and does not hold a clean shutdown', async () => {
    const st = await events(url(0));
    try {
      await st.until((e) => e.event === 'member' && e.data.node === s.nodes[2]!.id && e.data.status === 'UP');
      const t0 = Date.now();
      await s.nodes[2]!.kill();
      const down = await st.until((e) => e.event === 'member' && e.data.node === s.nodes[2]!.id && e.data.change === 'down', 10_000);
      // 3 heartbeats + 500 ms (1 s heartbeat), plus the hub's 250 ms read and a busy machine's slack.
      expect(Date.now() - t0).toBeLessThan(3 * 1000 + 500 + 2500);
      expect(down.data.status).toBe('DOWN');
    } finally {
      st.close();
    }
    const open = await events(url(1));
    await open.until((e) => e.event === 'hello');
    const t0 = Date.now();
    const code = await s.nodes[1]!.stop();
    if (code !== 0) console.log(s.nodes[1]!.logs().split('\n').slice(-15).join('\n'));
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    await open.ended;
  });
});

describe('configuration', () => {
  it('the Grafana dashboard queries only series a node exports', async () => {
    const dashboard = readFileSync(join(__dirname, '..', 'deploy', 'grafana', 'authcache.json'), 'utf8');
    const used = new Set(dashboard.match(/\b(authcache|process|nodejs)_[a-z0-9_]+/g));
    const exported = (await call(url(0), 'GET', '/metrics')).text;
    // By `# TYPE`: a labelled counter shows no sample before its first increment.
    const missing = [...used].filter((name) => !new RegExp(`^# TYPE ${name} `, 'm').test(exported));
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(15);
  });

  it('a bad AUTHCACHE_AUDIT_MAX_LEN stops the node at start with one line naming it', async () => {
    const n = await startNode({ redisUrl: s.redis.url, cluster: 'badaudit', secret: 'x'.repeat(20), token: 't', env: { AUTHCACHE_AUDIT_MAX_LEN: 'lots' }, waitHealthy: false });
    expect(await n.exited).not.toBe(0);
    expect(n.logs()).toMatch(/AUTHCACHE_AUDIT_MAX_LEN: must be a whole number, got "lots"/);
  });
});
