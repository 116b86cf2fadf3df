import { clusterNames, FRAME_SEQ_BYTES, FRAME_SEQ_OFFSET } from '@authcache/protocol';
import { PUBLISH_SCRIPT, publishCall } from '../src/bus/publish-script';
import { settingsOps } from '../src/bus/settings-ops';

const names = clusterNames('c');
const membersVersion = `${names.members}:version`;
const fixed = { seq: names.seq, log: names.log, epoch: names.epoch, membersVersion };

describe('the publish script', () => {
  it('takes the seq field from the codec layout', () => {
    expect(PUBLISH_SCRIPT).toContain(`string.sub(ARGV[1], 1, ${FRAME_SEQ_OFFSET})`);
    expect(PUBLISH_SCRIPT).toContain(`string.sub(ARGV[1], ${FRAME_SEQ_OFFSET + FRAME_SEQ_BYTES + 1})`);
    expect(PUBLISH_SCRIPT).toContain(`for j = ${FRAME_SEQ_BYTES}, 1, -1 do`);
  });

  it('answers the members version of KEYS[4] with the seq, read after the broadcast in the same step', () => {
    expect(PUBLISH_SCRIPT).toContain("return { seq, redis.call('GET', KEYS[4]) or '' }");
  });

  it('checks every guard before the first write', () => {
    const guards = PUBLISH_SCRIPT.indexOf("'expect'");
    expect(guards).toBeGreaterThan(0);
    expect(guards).toBeLessThan(PUBLISH_SCRIPT.indexOf("'INCR'"));
  });
});

describe('publishCall', () => {
  const frame = Buffer.from('frame');

  it('passes the fixed keys and arguments first', () => {
    expect(publishCall(fixed, frame, 100, names.updates, 'e', [])).toEqual({ keys: [names.seq, names.log, names.epoch, membersVersion], args: [frame, 100, names.updates, 'e'] });
  });

  it('gives each op its name, the index of its key (one per distinct key) and its arguments', () => {
    const call = publishCall(fixed, frame, 100, names.updates, 'e', [
      { op: 'expect', key: 'k1', exists: true },
      { op: 'hset', key: 'k1', fields: { a: '1', b: '2' } },
      { op: 'hdel', key: 'k2', fields: ['x'] },
      { op: 'del', key: 'k3' },
      { op: 'sadd', key: 'k2', members: ['m'] },
      { op: 'srem', key: 'k2', members: ['m', 'n'] },
      { op: 'expect', key: 'k4', exists: false },
    ]);
    expect(call.keys).toEqual([names.seq, names.log, names.epoch, membersVersion, 'k1', 'k2', 'k3', 'k4']);
    expect(call.args.slice(4)).toEqual(['expect', 5, 1, '1', 'hset', 5, 4, 'a', '1', 'b', '2', 'hdel', 6, 1, 'x', 'del', 7, 0, 'sadd', 6, 1, 'm', 'srem', 6, 2, 'm', 'n', 'expect', 8, 1, '0']);
  });

  it('passes a value guard as field, presence and value; the script checks it with the other guards', () => {
    const call = publishCall(fixed, frame, 100, names.updates, 'e', [
      { op: 'expect_field', key: 'k1', field: 'f', value: '["A"]' },
      { op: 'expect_field', key: 'k1', field: 'g', value: null },
    ]);
    expect(call.args.slice(4)).toEqual(['expect_field', 5, 3, 'f', '1', '["A"]', 'expect_field', 5, 3, 'g', '0', '']);
    expect(PUBLISH_SCRIPT.indexOf("'expect_field'")).toBeLessThan(PUBLISH_SCRIPT.indexOf("'INCR'"));
  });

  it('leaves out ops that would write nothing', () => {
    const call = publishCall(fixed, frame, 100, names.updates, 'e', [
      { op: 'hset', key: 'k', fields: {} },
      { op: 'hdel', key: 'k', fields: [] },
      { op: 'sadd', key: 'k', members: [] },
    ]);
    expect(call.args).toHaveLength(4);
    expect(call.keys).toHaveLength(4);
  });
});

describe('settingsOps', () => {
  it('turns settings writes into hset/hdel on the layer hashes, in order', () => {
    expect(
      settingsOps(names, [
        { layer: 'persistent', field: 'all.ttl_ms', value: '5' },
        { layer: 'persistent', field: 'roles.ttl_ms', value: undefined },
        { layer: 'transient', field: 'credentials.max_entries', value: '9' },
        { layer: 'transient', field: 'all.ttl_ms', value: undefined },
      ]),
    ).toEqual([
      { op: 'hset', key: names.settingsPersistent, fields: { 'all.ttl_ms': '5' } },
      { op: 'hdel', key: names.settingsPersistent, fields: ['roles.ttl_ms'] },
      { op: 'hset', key: names.settingsTransient, fields: { 'credentials.max_entries': '9' } },
      { op: 'hdel', key: names.settingsTransient, fields: ['all.ttl_ms'] },
    ]);
  });
});
