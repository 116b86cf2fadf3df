/**
 * A real Redis Cluster for one suite: `masters` x (1 + replicas) `redis-server --cluster-enabled yes`
 * processes on free ports in one temp dir, joined by `redis-cli --cluster create ... --cluster-yes`,
 * killed at exit (child-reaper). A short node timeout (1 s) makes a shard's failover take seconds
 * (docs/architecture.md, "Redis topologies").
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { withConnection } from './redis-commands';
import { dataNodeArgs, spawnRedisOnFreePort, tempDir, type RedisProcess } from './redis-sentinel';
import { waitFor } from './wait-for';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** default 3 */
  masters?: number;
  /** replicas per master, default 1 */
  replicas?: number;
  /** cluster-node-timeout, default 1000 ms */
  nodeTimeoutMs?: number;
}

export interface RedisClusterHandle {
  servers: RedisProcess[];
  /** `host:port,...` of every node (AUTHCACHE_REDIS_CLUSTER) */
  addresses: string;
  /** The nodes' environment for this deployment. */
  env: Record<string, string>;
  /** The master that serves `key`'s slot now, as a live node reports it. */
  masterOf(key: string): Promise<RedisProcess>;
  /** Waits until a live master other than `not` serves `key`'s slot and the cluster state is ok everywhere alive. */
  awaitMasterOf(key: string, opts?: { not?: RedisProcess; timeoutMs?: number }): Promise<RedisProcess>;
  /**
   * Resharding: moves `key`'s slot (and every key in it) from its master to another master, with
   * CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE, then SETSLOT NODE on every master. Resolves to
   * the new master.
   */
  moveSlotOf(key: string): Promise<RedisProcess>;
  stop(): Promise<void>;
}

export async function startRedisCluster(opts: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 1;
  const dir = tempDir('authcache-redis-cluster-');
  const servers: RedisProcess[] = [];
  const stop = async () => void (await Promise.all(servers.map((s) => s.kill())));
  try {
    const nodeArgs = (port: number): string[] => {
      const d = join(dir, String(port));
      mkdirSync(d, { recursive: true });
      const extra = ['--cluster-enabled', 'yes', '--cluster-config-file', join(d, 'nodes.conf'), '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1000)];
      return dataNodeArgs(port, d, extra);
    };
    // A port taken meanwhile (by another suite, or found free twice here) is retried on a fresh one.
    const started = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => spawnRedisOnFreePort(nodeArgs, 'redis cluster node')));
    servers.push(...started);
    await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    await waitFor(() => allOk(servers), { timeoutMs: 30_000, intervalMs: 200, message: 'the Redis Cluster did not reach cluster_state:ok on every node' });
    // Every replica attached to its master: a failover later has somewhere to go.
    await waitFor(
      async () => {
        const roles = await Promise.all(servers.map((s) => withConnection(s.url, (r) => r.call('ROLE') as Promise<unknown[]>)));
        return roles.filter((r) => r[0] === 'slave' && r[3] === 'connected').length === masters * replicas;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the replicas of the Redis Cluster did not all connect' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const addresses = servers.map((s) => `${s.host}:${s.port}`).join(',');
  const masterOf = async (key: string): Promise<RedisProcess> => {
    for (const s of servers.filter((x) => x.alive)) {
      const found = await withConnection(s.url, async (r) => {
        const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
        const ranges = (await r.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string]]>;
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        return range ? servers.find((x) => x.port === Number(range[2][1])) : undefined;
      }).catch(() => undefined);
      if (found) return found;
    }
    throw new Error(`no live node knows the master of ${key}`);
  };
  return {
    servers,
    addresses,
    env: { AUTHCACHE_REDIS_CLUSTER: addresses },
    masterOf,
    awaitMasterOf(key, { not, timeoutMs = 30_000 } = {}) {
      return waitFor(
        async () => {
          const m = await masterOf(key);
          if (!m.alive || m === not || !(await allOk(servers.filter((x) => x.alive)))) return undefined;
          const role = await withConnection(m.url, (r) => r.call('ROLE') as Promise<unknown[]>);
          return role[0] === 'master' ? m : undefined;
        },
        { timeoutMs, intervalMs: 100, message: `no live master took over the slot of ${key}` },
      );
    },
    async moveSlotOf(key) {
      const from = await masterOf(key);
      const masters: RedisProcess[] = [];
      for (const s of servers.filter((x) => x.alive)) {
        const role = await withConnection(s.url, (r) => r.call('ROLE') as Promise<unknown[]>);
        if (role[0] === 'master') masters.push(s);
      }
      const to = masters.find((m) => m !== from);
      if (!to) throw new Error('moveSlotOf: no other master');
      const id = (s: RedisProcess) => withConnection(s.url, (r) => r.call('CLUSTER', 'MYID') as Promise<string>);
      const [fromId, toId] = [await id(from), await id(to)];
      const slot = Number(await withConnection(from.url, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
      await withConnection(to.url, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId));
      await withConnection(from.url, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId));
      // Bounded: a slot of one authcache cluster holds a few dozen keys.
      for (let round = 0; round < 1000; round++) {
        const keys = (await withConnection(from.url, (r) => r.call('CLUSTER', 'GETKEYSINSLOT', slot, 100))) as string[];
        if (keys.length === 0) break;
        await withConnection(from.url, (r) => r.call('MIGRATE', to.host, to.port, '', 0, 5000, 'KEYS', ...keys), 10_000);
      }
      for (const m of [to, from, ...masters.filter((x) => x !== to && x !== from)]) await withConnection(m.url, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId));
      await waitFor(async () => (await masterOf(key)) === to && (await allOk(servers.filter((x) => x.alive))), { timeoutMs: 15_000, intervalMs: 100, message: `the slot of ${key} did not move` });
      return to;
    },
    stop,
  };
}

async function allOk(servers: RedisProcess[]): Promise<boolean> {
  const infos = await Promise.all(servers.map((s) => withConnection(s.url, (r) => r.call('CLUSTER', 'INFO') as Promise<string>)));
  return infos.every((i) => /cluster_state:ok/.test(i));
}
