import { createHash } from 'node:crypto';

/**
 * Adds to many counters in one call: KEYS are the counters, ARGV holds a delta and a TTL in ms
 * ('' for none) per key. A missing key is created by `SET NX [PX]` with the delta as its value
 * and its TTL in the same atomic step; an existing key keeps its expiry (a key holding "0"
 * without expiry must not gain one). Only SET and INCRBY run, the commands an ACL user already
 * holds. Each key gets its own reply (the new value as decimal text: ioredis misreads integer
 * replies near 2^53) or its own error (pcall), so one bad counter fails no other. A result past
 * ±(2^53 - 1) is taken back inside the script (so no one ever reads it) and refused:
 * JavaScript numbers hold integers exactly only up to there.
 */
export const INCR_SCRIPT = `local results = {}
for i = 1, #KEYS do
  local key, delta, ttl = KEYS[i], ARGV[2 * i - 1], ARGV[2 * i]
  local created
  if ttl == '' then created = redis.pcall('SET', key, delta, 'NX')
  else created = redis.pcall('SET', key, delta, 'NX', 'PX', ttl) end
  if created then
    results[i] = created.err and created or delta
  else
    local value = redis.pcall('INCRBY', key, delta)
    if type(value) == 'table' then
      results[i] = value
    elseif value > 9007199254740991 or value < -9007199254740991 then
      local back = string.sub(delta, 1, 1) == '-' and string.sub(delta, 2) or ('-' .. delta)
      redis.pcall('INCRBY', key, back)
      results[i] = redis.error_reply('LARDER_UNSAFE_INTEGER incr would leave the safe-integer range')
    else
      results[i] = string.format('%d', value)
    end
  end
end
return results`;

export const INCR_SHA = createHash('sha1').update(INCR_SCRIPT).digest('hex');

/**
 * The counter script for one counter (every `incr` at concurrency 1): the same steps and
 * guarantees as INCR_SCRIPT, without its loop and its table of replies. The reply is the new
 * value as decimal text (as there) or the error itself; the server runs it and the client parses
 * its reply in less time than a one-key call of INCR_SCRIPT.
 */
export const INCR_ONE_SCRIPT = `local key, delta, ttl = KEYS[1], ARGV[1], ARGV[2]
local created
if ttl == '' then created = redis.pcall('SET', key, delta, 'NX')
else created = redis.pcall('SET', key, delta, 'NX', 'PX', ttl) end
if created then return created.err and created or delta end
local value = redis.pcall('INCRBY', key, delta)
if type(value) == 'table' then return value end
if value > 9007199254740991 or value < -9007199254740991 then
  local back = string.sub(delta, 1, 1) == '-' and string.sub(delta, 2) or ('-' .. delta)
  redis.pcall('INCRBY', key, back)
  return redis.error_reply('LARDER_UNSAFE_INTEGER incr would leave the safe-integer range')
end
return string.format('%d', value)`;

export const INCR_ONE_SHA = createHash('sha1').update(INCR_ONE_SCRIPT).digest('hex');
