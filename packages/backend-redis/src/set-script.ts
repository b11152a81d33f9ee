/**
 * Writes many keys in one call: KEYS are the keys, ARGV holds a value, a TTL in ms ('' for
 * none) and 'NX' or '' per key. Each key gets its own reply: 1 when written, 0 when an NX
 * write found the key taken, or its own error (pcall), so one refused write fails no other.
 * A refusal that every write would meet (READONLY on a replica, OOM, MISCONF ...) comes on
 * the first write, before anything is written: the whole call then fails with that error, as
 * each SET would have, and the client sees it as the command's reply (ioredis'
 * `reconnectOnError` acts on READONLY). Only SET runs, the command an ACL user already holds.
 */
export const SET_SCRIPT = `local results = {}
for i = 1, #KEYS do
  local key, value, ttl, nx = KEYS[i], ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local reply
  if ttl == '' then
    if nx == '' then reply = redis.pcall('SET', key, value) else reply = redis.pcall('SET', key, value, 'NX') end
  elseif nx == '' then reply = redis.pcall('SET', key, value, 'PX', ttl)
  else reply = redis.pcall('SET', key, value, 'PX', ttl, 'NX') end
  if type(reply) == 'table' and reply.err then
    if i == 1 and string.sub(reply.err, 1, 4) ~= 'ERR ' then return reply end
    results[i] = reply
  else
    results[i] = reply and 1 or 0
  end
end
return results`;
