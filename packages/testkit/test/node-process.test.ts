import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort, startCluster, startNode, waitFor, type NodeHandle } from '@authcache/testkit';

const entry = join(__dirname, 'fixtures', 'stand-in-node.js');
const base = { redisUrl: 'redis://127.0.0.1:6399', cluster: 'c1', secret: 'sekrit', token: 'tok', entry };

function getJson(url: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    })
      .on('error', reject)
      .end();
  });
}

/** Alive and not a zombie: a killed grandchild may linger as <defunct> where nothing reaps orphans. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('startNode', () => {
  let node: NodeHandle | undefined;
  afterEach(async () => {
    await node?.kill();
    node = undefined;
  });

  it('waits for GET /health 200 and passes the default environment', async () => {
    node = await startNode({ ...base, env: { STANDIN_READY_AFTER_MS: '300' } });
    expect(node.url).toBe(`http://127.0.0.1:${node.port}`);
    expect(node.id).toBe(`node-${node.port}`);
    expect(node.pid).toEqual(expect.any(Number));
    // Ready only after 300 ms: resolving earlier would mean startNode did not wait for 200.
    await expect(getJson(`${node.url}/health`)).resolves.toMatchObject({ status: 200, body: { status: 'UP' } });
    const { body } = await getJson(`${node.url}/env`);
    expect(body.pid).toBe(node.pid);
    expect(body.env).toEqual({
      REDIS_URL: base.redisUrl,
      AUTHCACHE_CLUSTER: 'c1',
      AUTHCACHE_NODE_ID: node.id,
      AUTHCACHE_PORT: String(node.port),
      AUTHCACHE_HOST: '127.0.0.1',
      AUTHCACHE_ADMIN_TOKEN: 'tok',
      AUTHCACHE_CLUSTER_SECRET: 'sekrit',
      LOG_LEVEL: 'info',
      AUTHCACHE_BCRYPT_COST: '4',
      AUTHCACHE_LOGIN_MAX_FAILURES: '0',
      AUTHCACHE_LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
      STANDIN_READY_AFTER_MS: '300',
    });
    expect(node.logs()).toContain('"msg":"listening"');
  });

  it('lets opts.env override defaults and keeps the parent shell from leaking node settings', async () => {
    process.env.AUTHCACHE_CACHE_TTL_MS = '1';
    try {
      const port = await freePort();
      node = await startNode({ ...base, id: 'alpha', port, env: { LOG_LEVEL: 'debug', AUTHCACHE_BCRYPT_COST: undefined } });
      expect(node.port).toBe(port);
      const { body } = await getJson(`${node.url}/env`);
      expect(body.env).toMatchObject({ AUTHCACHE_NODE_ID: 'alpha', LOG_LEVEL: 'debug' });
      expect(body.env).not.toHaveProperty('AUTHCACHE_BCRYPT_COST');
      expect(body.env.AUTHCACHE_CACHE_TTL_MS).toBeUndefined();
    } finally {
      delete process.env.AUTHCACHE_CACHE_TTL_MS;
    }
  });

  it('stop() sends SIGTERM and resolves with the exit code', async () => {
    node = await startNode(base);
    await expect(node.stop()).resolves.toBe(0);
    await expect(node.exited).resolves.toBe(0);
    expect(node.logs()).toContain('"signal":"SIGTERM"');
    await expect(node.stop()).resolves.toBe(0); // already gone: same answer
  });

  it('kill() sends SIGKILL', async () => {
    node = await startNode(base);
    const pid = node.pid!;
    await node.kill();
    await expect(node.exited).resolves.toBeNull();
    expect(alive(pid)).toBe(false);
    expect(node.logs()).not.toContain('"msg":"stopping"');
  });

  it('restart() comes back on the same port with a new pid, extra env sticking', async () => {
    node = await startNode(base);
    const firstPid = node.pid;
    await node.restart({ STANDIN_EXTRA: 'x' });
    expect(node.pid).not.toBe(firstPid);
    let { body } = await getJson(`${node.url}/env`);
    expect(body).toMatchObject({ pid: node.pid, env: { STANDIN_EXTRA: 'x', AUTHCACHE_NODE_ID: node.id } });
    await node.kill();
    await node.restart();
    ({ body } = await getJson(`${node.url}/env`));
    expect(body.env.STANDIN_EXTRA).toBe('x');
    expect(node.logs().match(/"msg":"listening"/g)).toHaveLength(3);
  });

  it('with waitHealthy:false returns at once; a bad config shows as exit code and stderr line', async () => {
    node = await startNode({ ...base, secret: '', waitHealthy: false });
    await expect(node.exited).resolves.toBe(2);
    expect(node.logs()).toBe('AUTHCACHE_CLUSTER_SECRET is required\n');
  });

  it('rejects with the exit code and the output tail when the node dies before it is healthy', async () => {
    await expect(startNode({ ...base, id: 'broken', secret: '' })).rejects.toThrow(
      /node broken exited with code 2 before it was healthy\n--- last output of broken ---\nAUTHCACHE_CLUSTER_SECRET is required/,
    );
  });

  it('rejects after the health deadline and kills the node', async () => {
    const port = await freePort();
    const err: Error = await startNode({ ...base, port, env: { STANDIN_NEVER_READY: '1' }, healthTimeoutMs: 500 }).then(
      () => new Error('unexpectedly healthy'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(new RegExp(`node node-${port} did not answer GET http://127.0.0.1:${port}/health with 200 \\(gave up after 500 ms`));
    expect(err.message).toContain('"msg":"listening"');
    await expect(getJson(`http://127.0.0.1:${port}/health`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('refuses a port something else already listens on, rather than trusting its /health', async () => {
    node = await startNode(base);
    await expect(startNode({ ...base, port: node.port })).rejects.toThrow(`port ${node.port} (node node-${node.port}) is already in use`);
  });

  it('says so when the entry is not built', async () => {
    await expect(startNode({ ...base, entry: join(__dirname, 'fixtures', 'missing.js') })).rejects.toThrow(/missing\.js does not exist; build first/);
  });
});

describe('startCluster', () => {
  it('starts the nodes in parallel under one unique cluster name and stops them all', async () => {
    const lines: string[] = [];
    const cluster = await startCluster({ ...base, cluster: undefined, onOutput: (id, line) => lines.push(`${id} ${line}`) });
    try {
      expect(cluster.nodes).toHaveLength(3);
      expect(new Set(cluster.urls).size).toBe(3);
      expect(cluster.cluster).toMatch(/^t[0-9a-f]+$/);
      for (const url of cluster.urls) {
        const { body } = await getJson(`${url}/env`);
        expect(body.env).toMatchObject({ AUTHCACHE_CLUSTER: cluster.cluster, AUTHCACHE_CLUSTER_SECRET: cluster.secret, AUTHCACHE_ADMIN_TOKEN: cluster.token });
      }
      for (const node of cluster.nodes) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${node.id} .*"msg":"listening"`)));
    } finally {
      await cluster.stop();
    }
    for (const node of cluster.nodes) await expect(node.exited).resolves.toBe(0);
    const again = await startCluster({ ...base, cluster: undefined, size: 1 });
    await again.stop();
    expect(again.cluster).not.toBe(cluster.cluster);
  });

  it('stops the started nodes when one fails', async () => {
    const taken = await startNode(base);
    try {
      const free = await freePort();
      await expect(startCluster({ ...base, ports: [free, taken.port] })).rejects.toThrow(
        `startNode: port ${taken.port} (node node-${taken.port}) is already in use on 127.0.0.1`,
      );
      await expect(getJson(`http://127.0.0.1:${free}/health`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await taken.stop();
    }
  });
});

describe('process reaper', () => {
  for (const how of ['exit', 'signal'] as const) {
    it(`kills spawned nodes when the spawning process ${how === 'exit' ? 'exits' : 'dies of SIGTERM'}`, async () => {
      const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'spawn-and-exit.js'), how], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      const pid = await waitFor(() => /^\d+\n/.test(out) && Number(out.trim()), { timeoutMs: 20_000, message: 'spawn-and-exit never printed a pid' });
      expect(alive(pid)).toBe(true);
      if (how === 'signal') child.kill('SIGTERM');
      else child.stdin.end('go\n');
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(how === 'exit' ? 0 : null);
      await waitFor(() => !alive(pid), { timeoutMs: 5000, message: `stand-in ${pid} outlived its parent` });
    });
  }
});
