/**
 * Publishing a ConfigUpdate is one Redis script, so that seq assignment, the settings writes
 * that go with the update, the append to the bounded log and the broadcast are atomic and in
 * seq order: INCR the counter, write the seq into the frame (bytes 1..9, big-endian, outside the
 * signature), XADD it under id `<seq>-0`, PUBLISH it.
 *
 * KEYS: seq, log, epoch, settings:transient, settings:persistent
 * ARGV: frame, log max length, channel, fresh epoch, then writes as quads (op S|D, key index, field, value)
 */
export const PUBLISH_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[3], ARGV[4], 'NX')
local i = 5
while i <= #ARGV do
  local key = KEYS[tonumber(ARGV[i + 1])]
  if ARGV[i] == 'S' then
    redis.call('HSET', key, ARGV[i + 2], ARGV[i + 3])
  else
    redis.call('HDEL', key, ARGV[i + 2])
  end
  i = i + 4
end
local n = seq
local bytes = {}
for j = 8, 1, -1 do
  bytes[j] = string.char(n % 256)
  n = math.floor(n / 256)
end
local frame = string.sub(ARGV[1], 1, 1) .. table.concat(bytes) .. string.sub(ARGV[1], 10)
local id = string.format('%d-0', seq)
local ok = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'm', frame)
if type(ok) == 'table' and ok.err then
  -- The log is ahead of the counter (partial data loss): start it again; nodes that need the old part flush.
  redis.call('DEL', KEYS[2])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'm', frame)
end
redis.call('PUBLISH', ARGV[3], frame)
return seq
`;
