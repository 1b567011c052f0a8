/**
 * The raw equivalents the Redis benchmarks time ours against: the least a
 * raw client must do for the same service, as one script each: a value
 * that `list` finds (a sorted-set index), usage that is counted and a
 * quota that holds under concurrent writers (checked in the same script).
 * They still do less than ours (no versions, no written-at or expiry
 * index, counters that drift when keys expire), so they are a floor, not a
 * twin. Used by tests/redis_bench.ts and tests/redis_client_lab.ts.
 *
 * @module
 */

/** KEYS: value key, index, usage hash. ARGV: value, PXAT, member, max bytes. */
export const RAW_SET = `
local old = redis.call('STRLEN', KEYS[1])
local used = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
local delta = #ARGV[1] - old
if used + delta > tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
redis.call('HINCRBY', KEYS[3], 'bytes', delta)
return 1`;

/**
 * KEYS: as {@link RAW_SET}. ARGV: by, member, max bytes, PXAT for a new
 * counter or "". A counter the cache API creates gets the default TTL, so
 * the equivalent of `ns.increment` gives a new counter the same expiry (an
 * existing one keeps its own, as ours does).
 */
export const RAW_INCREMENT = `
local old = redis.call('STRLEN', KEYS[1])
local used = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
if used + 20 > tonumber(ARGV[3]) then return nil end
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if old == 0 and ARGV[4] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[4]) end
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HINCRBY', KEYS[3], 'bytes', #tostring(n) - old)
return n`;

/** KEYS: as {@link RAW_SET}. ARGV: expected value, new value, member, max bytes. */
export const RAW_CHECK_SET = `
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return 0 end
local old = cur and #cur or 0
local used = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
local delta = #ARGV[2] - old
if used + delta > tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
redis.call('HINCRBY', KEYS[3], 'bytes', delta)
return 1`;
