/**
 * The pure parts of the Redis topologies (docs/architecture.md, "Redis topologies"): hash-tagged
 * names, the script variants, the membership marker moved into the members' slot, the connection
 * factory per topology (not connected), and what a missing replica confirmation is.
 */
import { Cluster } from 'ioredis';
import { clusterNames } from '@authcache/protocol';
import { PUBLISH_SCRIPT, ROTATE_EPOCH_SCRIPT, publishCall, publishScript } from '../src/bus/publish-script';
import { ReplicationError, classify } from '../src/bus/redis-transport';
import { TransportError } from '../src/bus/transport';
import { sameSlot } from '../src/membership/scripts';
import { connectRedis } from '../src/redis';

describe('clusterNames', () => {
  it('keeps the plain prefix by default, so existing deployments keep their keys', () => {
    const n = clusterNames('c');
    expect([n.prefix, n.hashTagged, n.seq, n.role('r'), n.acksFor('x'), n.secretMarker, n.epochMaster]).toEqual(['c:', false, 'c:seq', 'c:role:r', 'c:acks:x', 'c:secret-marker', 'c:epoch:master']);
  });

  it('puts every key and channel under one hash tag in cluster mode; `cluster` stays the plain name', () => {
    const n = clusterNames('c', { hashTag: true });
    expect(n.cluster).toBe('c');
    const all = [n.seq, n.epoch, n.epochMaster, n.log, n.updates, n.acks, n.acksFor('node-1'), n.members, n.rolesIndex, n.role('r'), n.settingsTransient, n.settingsPersistent, n.audit, n.rolePermissions('r'), n.permissionsIndex, n.lease('ldap'), n.secretMarker];
    for (const k of all) expect(k.startsWith('{c}:')).toBe(true);
  });
});

describe('publish script variants', () => {
  it('the default is the single-Redis script', () => {
    expect(publishScript({ sharded: false, trackMaster: false })).toBe(PUBLISH_SCRIPT);
  });

  it('sharded: SPUBLISH instead of PUBLISH', () => {
    const lua = publishScript({ sharded: true, trackMaster: false });
    expect(lua).toContain("redis.call('SPUBLISH', ARGV[3], frame)");
    expect(lua).not.toContain("redis.call('PUBLISH'");
  });

  it('tracking the master: the epoch is tied to the run_id before the seq is taken, after the guards', () => {
    const lua = publishScript({ sharded: false, trackMaster: true });
    const track = lua.indexOf("redis.call('INFO', 'server')");
    expect(track).toBeGreaterThan(lua.indexOf("'expect'"));
    expect(track).toBeLessThan(lua.indexOf("'INCR'"));
    expect(lua).toContain("redis.call('GET', KEYS[5]) ~= run");
    expect(ROTATE_EPOCH_SCRIPT).toContain("redis.call('SET', KEYS[3], run)");
  });

  it('passes the epoch master as KEYS[5], after the members version and before the keys of the ops', () => {
    const n = clusterNames('c');
    const membersVersion = `${n.members}:version`;
    const call = publishCall({ seq: n.seq, log: n.log, epoch: n.epoch, membersVersion, epochMaster: n.epochMaster }, Buffer.from('f'), 10, n.updates, 'e', [{ op: 'del', key: 'k' }]);
    expect(call.keys).toEqual([n.seq, n.log, n.epoch, membersVersion, n.epochMaster, 'k']);
    expect(call.args.slice(4)).toEqual(['del', 6, 0]);
  });
});

describe('sameSlot', () => {
  it('moves a plain marker under the members key hash tag', () => {
    expect(sameSlot('c:secret-marker', '{c}:members')).toBe('{c}:secret-marker');
    expect(sameSlot('{c}:secret-marker', '{c}:members')).toBe('{c}:secret-marker');
  });

  it('changes nothing without a hash tag', () => {
    expect(sameSlot('c:secret-marker', 'c:members')).toBe('c:secret-marker');
  });
});

describe('ReplicationError', () => {
  it('is an outcome-unknown TransportError carrying the seq and the replicas that confirmed', () => {
    const e = new ReplicationError(42, 0, 1);
    expect(e).toBeInstanceOf(TransportError);
    expect([e.failure, e.seq, e.replicated, e.required]).toEqual(['unknown', 42, 0, 1]);
    expect(classify(e)).toBe(e);
    expect(e.message).toMatch(/^0 of 1 required replicas confirmed update 42/);
  });
});

describe('connectRedis', () => {
  const close = (c: { cmd: { disconnect(): void }; sub: { disconnect(): void } }) => {
    c.cmd.disconnect();
    c.sub.disconnect();
  };

  it('single: the URL, plain pub/sub, no master tracking', () => {
    const c = connectRedis('redis://127.0.0.1:1', undefined);
    expect([c.mode, c.sharded, c.failover]).toEqual(['single', false, false]);
    expect(c.cmd.options).toMatchObject({ host: '127.0.0.1', port: 1, enableOfflineQueue: false, commandTimeout: 1000, lazyConnect: true });
    close(c);
  });

  it('sentinel: the sentinels and master name, the credentials of the URL, failover detection, WAIT inside the command timeout', () => {
    const c = connectRedis('redis://user:p%40ss@ignored:6379/2', undefined, {
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'auth',
      sentinelPassword: 'sp',
      minReplicas: 1,
      replicaWaitMs: 250,
    });
    expect([c.mode, c.sharded, c.failover]).toEqual(['sentinel', false, true]);
    for (const conn of [c.cmd, c.sub]) {
      expect(conn.options).toMatchObject({ sentinels: [{ host: 's1', port: 26379 }], name: 'auth', role: 'master', sentinelPassword: 'sp', username: 'user', password: 'p@ss', db: 2, failoverDetector: true });
    }
    expect(c.cmd.options.commandTimeout).toBe(1250);
    close(c);
  });

  it('cluster: ioredis Cluster connections, sharded subscribers on the subscriber', () => {
    const c = connectRedis('redis://127.0.0.1:1', undefined, { mode: 'cluster', nodes: [{ host: 'a', port: 7000 }], minReplicas: 0, replicaWaitMs: 100 });
    expect([c.mode, c.sharded, c.failover]).toEqual(['cluster', true, true]);
    expect(c.cmd).toBeInstanceOf(Cluster);
    expect((c.sub as unknown as Cluster).options.shardedSubscribers).toBe(true);
    expect((c.cmd as unknown as Cluster).options.enableOfflineQueue).toBe(false);
    close(c);
  });
});
