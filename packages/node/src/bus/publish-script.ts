/**
 * Publishing a ConfigUpdate is one Redis script, so that the guards, seq assignment, the state
 * writes that go with the update (settings, role rows), the append to the bounded log and the
 * broadcast are atomic and in seq order (docs/architecture.md, "Propagation", Publish). The byte offsets
 * of the seq come from the codec's constants: the script is generated from them, so the frame
 * layout is known in one place only.
 *
 * KEYS: seq, log, epoch, members version, [epoch master,] then the keys the ops touch
 * ARGV: frame, log max length, channel, fresh epoch, then per op: name, key index, n, n arguments
 * Returns {seq, members version or ''}, or {'guard', key} when an `expect` op did not hold (nothing
 * written). The members version is read here, at the instant of the broadcast, so that the origin
 * needs no command of its own to know whom to wait for (docs/architecture.md, "Membership").
 *
 * Two variants (docs/architecture.md, "Redis topologies"): on a Redis Cluster the broadcast is
 * SPUBLISH, so that it stays on the shard of the cluster's hash tag; where the master can change
 * (Sentinel, Cluster) the script first ties the epoch to the master's run_id, so the first write on
 * a promoted replica starts a new epoch and every node flushes instead of trusting seqs the new
 * master may never have seen (its lost tail, reused for other updates).
 */
import { FRAME_HEADER_BYTES, FRAME_SEQ_BYTES, FRAME_SEQ_OFFSET } from '@authcache/protocol';
import type { StoreOp } from './transport';

const FIXED_ARGS = 4;

/** Lua's string.sub counts from 1, inclusive: the bytes before the seq, and the first one after it. */
const PREFIX_END = FRAME_SEQ_OFFSET;
const SUFFIX_START = FRAME_SEQ_OFFSET + FRAME_SEQ_BYTES + 1;
if (FRAME_SEQ_OFFSET + FRAME_SEQ_BYTES > FRAME_HEADER_BYTES) throw new Error('codec layout: the seq field lies outside the header');

export interface ScriptVariant {
  /** SPUBLISH (Redis Cluster sharded pub/sub) instead of PUBLISH. */
  sharded: boolean;
  /** KEYS[5] holds the run_id of the master the epoch belongs to; another master starts a new epoch. */
  trackMaster: boolean;
}

/**
 * Lua: the run_id of the server running the script. INFO is allowed in scripts; writes after it are
 * replicated as effects (the default since Redis 5).
 */
export const RUN_ID_LUA = `string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')`;

/** Lua, KEYS[3] epoch, KEYS[5] its master, ARGV[4] a fresh epoch: a new master starts a new epoch. */
const TRACK_MASTER = `
if redis.replicate_commands then redis.replicate_commands() end
local run = ${RUN_ID_LUA}
if redis.call('GET', KEYS[5]) ~= run then
  redis.call('SET', KEYS[3], ARGV[4])
  redis.call('SET', KEYS[5], run)
end`;

export function publishScript(v: ScriptVariant): string {
  let lua = PUBLISH_SCRIPT;
  if (v.trackMaster) lua = lua.replace("local seq = redis.call('INCR', KEYS[1])", `${TRACK_MASTER.trim()}\nlocal seq = redis.call('INCR', KEYS[1])`);
  if (v.sharded) lua = lua.replace("redis.call('PUBLISH', ARGV[3], frame)", "redis.call('SPUBLISH', ARGV[3], frame)");
  return lua;
}

/**
 * KEYS: seq, epoch, epoch master. ARGV: a fresh epoch. Answers {seq, epoch} after tying the epoch
 * to the current master (see publishScript): run only when a read found another master's epoch.
 */
export const ROTATE_EPOCH_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local run = ${RUN_ID_LUA}
local epoch = redis.call('GET', KEYS[2])
if not epoch or redis.call('GET', KEYS[3]) ~= run then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
  redis.call('SET', KEYS[3], run)
end
return { redis.call('GET', KEYS[1]) or '0', epoch }
`;

export const PUBLISH_SCRIPT = `
local ops = {}
local i = ${FIXED_ARGS + 1}
while i <= #ARGV do
  local n = tonumber(ARGV[i + 2])
  ops[#ops + 1] = { ARGV[i], KEYS[tonumber(ARGV[i + 1])], i + 3, n }
  i = i + 3 + n
end
for _, op in ipairs(ops) do
  if op[1] == 'expect' then
    local exists = redis.call('EXISTS', op[2]) == 1
    if exists ~= (ARGV[op[3]] == '1') then return { 'guard', op[2] } end
  elseif op[1] == 'expect_field' then
    local v = redis.call('HGET', op[2], ARGV[op[3]])
    local want = ARGV[op[3] + 1] == '1'
    if (want and v ~= ARGV[op[3] + 2]) or (not want and v) then return { 'guard', op[2] } end
  end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[3], ARGV[4], 'NX')
for _, op in ipairs(ops) do
  local args = {}
  for j = 0, op[4] - 1 do args[#args + 1] = ARGV[op[3] + j] end
  if op[1] == 'hset' then redis.call('HSET', op[2], unpack(args))
  elseif op[1] == 'hdel' then redis.call('HDEL', op[2], unpack(args))
  elseif op[1] == 'del' then redis.call('DEL', op[2])
  elseif op[1] == 'sadd' then redis.call('SADD', op[2], unpack(args))
  elseif op[1] == 'srem' then redis.call('SREM', op[2], unpack(args))
  end
end
local n = seq
local bytes = {}
for j = ${FRAME_SEQ_BYTES}, 1, -1 do
  bytes[j] = string.char(n % 256)
  n = math.floor(n / 256)
end
local frame = string.sub(ARGV[1], 1, ${PREFIX_END}) .. table.concat(bytes) .. string.sub(ARGV[1], ${SUFFIX_START})
local id = string.format('%d-0', seq)
local ok = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'm', frame)
if type(ok) == 'table' and ok.err then
  -- The log is ahead of the counter (partial data loss): start it again; nodes that need the old part flush.
  redis.call('DEL', KEYS[2])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'm', frame)
end
redis.call('PUBLISH', ARGV[3], frame)
return { seq, redis.call('GET', KEYS[4]) or '' }
`;

export interface ScriptCall {
  keys: string[];
  args: Array<string | Buffer | number>;
}

/**
 * The KEYS and ARGV of one publish. Ops that would write nothing (an hset of no field) are left
 * out, since Redis refuses them and the script would stop half way.
 */
export function publishCall(
  fixed: { seq: string; log: string; epoch: string; membersVersion: string; epochMaster?: string },
  frame: Buffer,
  logMaxLen: number,
  channel: string,
  freshEpoch: string,
  ops: readonly StoreOp[],
): ScriptCall {
  const keys = [fixed.seq, fixed.log, fixed.epoch, fixed.membersVersion];
  // The tracked variant reads KEYS[5]: it comes before the ops' keys.
  if (fixed.epochMaster !== undefined) keys.push(fixed.epochMaster);
  const index = new Map<string, number>();
  const keyIndex = (key: string): number => {
    let at = index.get(key);
    if (at === undefined) {
      keys.push(key);
      at = keys.length; // Lua indexes from 1
      index.set(key, at);
    }
    return at;
  };
  const args: Array<string | Buffer | number> = [frame, logMaxLen, channel, freshEpoch];
  const push = (op: string, key: string, values: string[]) => {
    if (op !== 'del' && values.length === 0) return;
    args.push(op, keyIndex(key), values.length, ...values);
  };
  for (const op of ops) {
    switch (op.op) {
      case 'hset':
        push('hset', op.key, Object.entries(op.fields).flat());
        break;
      case 'hdel':
        push('hdel', op.key, op.fields);
        break;
      case 'del':
        push('del', op.key, []);
        break;
      case 'sadd':
      case 'srem':
        push(op.op, op.key, op.members);
        break;
      case 'expect':
        push('expect', op.key, [op.exists ? '1' : '0']);
        break;
      case 'expect_field':
        push('expect_field', op.key, [op.field, op.value === null ? '0' : '1', op.value ?? '']);
        break;
    }
  }
  return { keys, args };
}
