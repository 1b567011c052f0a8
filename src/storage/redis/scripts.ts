/**
 * The Lua scripts that make each namespace operation atomic on the server.
 * Every script takes the namespace's five bookkeeping keys first (meta,
 * index, sizes, expiries, writes; see `keys.ts`), then the entry keys it
 * touches, so Redis Cluster routes it by the namespace's hash tag.
 *
 * Scripts start with a `#!lua` shebang (Redis 7, Valkey 7.2+): the server
 * then refuses a writing script up front when it is out of memory, instead
 * of failing halfway through one (Redis does not roll a script back).
 * Everything a script checks (versions, quota) is checked before its first
 * write for the same reason.
 *
 * Each script's first request on a connection (per hash tag in a cluster)
 * is an `EVAL` carrying its text, later ones go by SHA1 (`EVALSHA`); see
 * `RedisLink.run` for why not `EVALSHA` first.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A script and its SHA1, as `EVALSHA` wants it. */
export interface LuaScript {
  /** A name for error messages. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** SHA1 of the source, hex. */
  readonly sha: string;
  /** It writes nothing (`#!lua flags=no-writes`): a replica may run it. */
  readonly readonly: boolean;
}

/**
 * A {@link LuaScript} with its SHA1, as `EVALSHA` wants it.
 *
 * @example
 * ```ts
 * import { luaScript } from "./scripts.ts";
 * console.log(luaScript("one", "#!lua\nreturn 1").sha.length); // 40
 * ```
 */
export function luaScript(name: string, source: string): LuaScript {
  return {
    name,
    source,
    sha: createHash("sha1").update(source).digest("hex"),
    readonly: source.startsWith("#!lua flags=no-writes"),
  };
}

// Pieces shared by the scripts that write entries; each script includes
// only the ones it calls (defining a Lua closure is not free on every run).
// The namespace's counters (`seq`, `keys`, `bytes`) are read once into a
// table `m`, changed in Lua, and written back with one HSET (`save`), so a
// write costs two commands on the meta hash instead of one per counter.
// `forget` drops a key's bookkeeping (deletes, expired keys); `fits` is the
// quota check; `put` writes one entry with the next version, skipping the
// bookkeeping writes an overwrite does not change. Counters are written
// with string.format('%d'), so they always read back as plain decimals.
const USAGE_FN = `
local function usage()
  local u = redis.call('HMGET', M, 'keys', 'bytes')
  return tonumber(u[1] or 0), tonumber(u[2] or 0)
end
`;
const KEYS5 = `
local M, I, S, X, W = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
`;
const HEAD = KEYS5 + USAGE_FN;
const META = `
local function meta()
  local u = redis.call('HMGET', M, 'keys', 'bytes', 'seq')
  local keys, bytes = tonumber(u[1] or 0), tonumber(u[2] or 0)
  return {keys = keys, bytes = bytes, seq = tonumber(u[3] or 0), k0 = keys, b0 = bytes}
end
local function save(m)
  if m.keys == m.k0 and m.bytes == m.b0 then
    redis.call('HSET', M, 'seq', string.format('%d', m.seq))
  else
    redis.call('HSET', M, 'keys', string.format('%d', m.keys), 'bytes', string.format('%d', m.bytes), 'seq', string.format('%d', m.seq))
  end
end
`;
const FORGET = `
local function forget(key, m)
  local size = redis.call('HGET', S, key)
  if not size then return 0 end
  -- An entry expired by the caller's clock (a test clock ahead of the
  -- server's) may still be in Redis: it goes with its bookkeeping.
  redis.call('DEL', string.sub(M, 1, -2) .. 'e' .. key)
  redis.call('HDEL', S, key)
  redis.call('ZREM', I, key)
  redis.call('ZREM', X, key)
  redis.call('ZREM', W, key)
  if m then
    m.keys = m.keys - 1
    m.bytes = m.bytes - tonumber(size)
  else
    redis.call('HINCRBY', M, 'keys', -1)
    redis.call('HINCRBY', M, 'bytes', -tonumber(size))
  end
  return 1
end
`;
// OLD: a stored entry repeats its size (s, as in S) and its score in X
// (q, "" when it has none), so an overwrite reads both with the entry
// instead of asking S and X. S stays the record (it outlives an entry
// Redis expired, for exact usage); an entry without them (gone, or written
// by the earlier layout) falls back to S and X, and the write adds them.

/**
 * Lua: writes an entry (`value`, expiring at `xat`, "" = never, or keeping
 * its expiry when `keep`) with version `seq`, and its bookkeeping: the
 * expiry set, the TTL, and for a new key (`oldN` nil) the index (unless
 * `indexed`), the write-time set and the sizes hash; adds to `keys` and
 * `bytes`. Expects those locals and `e`, `key`, `now`, `size`, `sizeS`
 * (the size as text: a number passed to redis.call costs a float-to-text
 * conversion on every call) and `q` (the entry's score in X: "" = none,
 * nil = unknown; set to the new one). `skew` is the Lua expression of the
 * clock skew (see RedisLink.clockOffset), read only for a write that
 * expires. Shared by `put` (COMMIT) and WRITE_ONE (the one-key writes).
 */
const store = (skew: string) => `
if keep then
  -- The entry keeps its expiry (an increment of a live counter): its
  -- TTL and its member of X stay as they are.
  if q then
    redis.call('HSET', e, 'v', value, 'n', seq, 'w', now, 's', sizeS)
  else
    q = redis.call('ZSCORE', X, key) or ''
    redis.call('HSET', e, 'v', value, 'n', seq, 'w', now, 's', sizeS, 'q', q)
  end
elseif xat == '' then
  redis.call('HSET', e, 'v', value, 'n', seq, 'w', now, 'x', xat, 's', sizeS, 'q', '')
  -- Only an entry that had an expiry is in X (and has a TTL to drop).
  if oldN and q ~= '' and redis.call('ZREM', X, key) == 1 then redis.call('PERSIST', e) end
else
  -- X holds each key at or before its real expiry (see EXPIRED): an
  -- overwrite that extends the expiry leaves the member where it is
  -- (moving a member of a big set is the costly part of a write) unless
  -- its score is nearer to now than to the new expiry, so a key
  -- overwritten more often than every half TTL never looks expired to
  -- ZCOUNT. A shorter expiry always moves it down. The score is kept in
  -- the entry too (q), so a write need not ask X for it.
  -- (A new key has no score to compare: no text-to-number conversions.)
  if oldN and not q then q = redis.call('ZSCORE', X, key) or '' end
  local s = oldN and tonumber(q)
  local xn = s and tonumber(xat)
  if not s or s > xn or s < tonumber(now) + (xn - tonumber(now)) / 2 then
    redis.call('ZADD', X, xat, key)
    q = xat
  end
  redis.call('HSET', e, 'v', value, 'n', seq, 'w', now, 'x', xat, 's', sizeS, 'q', q)
  -- The caller's clock decides expiry (x); Redis frees the entry after
  -- the same time span on its own clock. The client passes the skew
  -- (server clock minus the caller's, 0 within a second; see
  -- RedisLink.clockOffset).
  local skew = ${skew}
  if skew == 0 then
    redis.call('PEXPIREAT', e, xat)
  else
    redis.call('PEXPIREAT', e, string.format('%d', tonumber(xat) + skew))
  end
end
if oldN then
  if oldN ~= size then
    redis.call('HSET', S, key, sizeS)
    bytes = bytes - oldN + size
  end
else
  -- The write-time set is scored at creation only: an overwrite leaves
  -- the score at or before the entry's \`w\`, and USAGE (its only reader)
  -- moves a stale first member up when it meets one. One ZADD less on
  -- every overwrite.
  if not indexed then redis.call('ZADD', I, 0, key) end
  redis.call('ZADD', W, now, key)
  redis.call('HSET', S, key, sizeS)
  keys, bytes = keys + 1, bytes + size
end
`;

const PUT = `
local function put(m, e, key, value, xat, size, now, old, skew, q, keep)
  m.seq = m.seq + 1
  local seq, sizeS = string.format('%d', m.seq), string.format('%d', size)
  local oldN, indexed, keys, bytes = old and tonumber(old), false, m.keys, m.bytes
${store("skew")}
  m.keys, m.bytes = keys, bytes
  return q
end
`;
/**
 * Lua: whether a member of the expiry set (X) met at or before now is
 * expired. X's scores are at or before each entry's real expiry (the
 * entry's `x`, on the caller's clock; see PUT), so the entry decides: gone
 * (Redis freed it) or `x <= now` is expired; otherwise the second result
 * is the real expiry, so the caller can move the member up (each overwrite
 * leaves at most one such step), or nil when the entry no longer expires.
 */
export const EXPIRED: string = `
local function expired(prefix, k, now)
  local x = redis.call('HGET', prefix .. k, 'x')
  if not x then return true end
  if x == '' then return false, nil end
  if tonumber(x) <= now then return true end
  return false, x
end
local function rescore(prefix, k, x)
  if x then
    redis.call('ZADD', X, x, k)
    redis.call('HSET', prefix .. k, 'q', x)
  else
    redis.call('ZREM', X, k)
    redis.call('HSET', prefix .. k, 'q', '')
  end
end
`;

/**
 * Lua: for members of X met at or before now (`ks`), forget the expired
 * entries and move the stale members up (see EXPIRED); returns how many
 * were forgotten. For the scripts that walk what is due (list, purge),
 * which also include FORGET and EXPIRED.
 */
const DROP_DUE = `
local function dropDue(prefix, ks, now)
  local n = 0
  for _, k in ipairs(ks) do
    local gone, x = expired(prefix, k, now)
    if gone then
      forget(k)
      n = n + 1
    else
      rescore(prefix, k, x)
    end
  end
  return n
end
`;

/**
 * Lua: a window of index rows ordered least recently used first, by the
 * later of the entry's write time and its recorded read (`U`); shared by
 * the write scripts' eviction (ROOM) and the batch path's (eviction.ts).
 */
export const BY_LAST_USE = `
local function by_last_use(rows, prefix, U)
  local cand = {}
  for _, k in ipairs(rows) do
    local used = tonumber(redis.call('HGET', prefix .. k, 'w') or 0)
    local r = redis.call('ZSCORE', U, k)
    if r and tonumber(r) > used then used = tonumber(r) end
    cand[#cand + 1] = {k, used}
  end
  table.sort(cand, function(a, b) return a[2] < b[2] end)
  return cand
end
`;

// Eviction inside a write (SET, INCREMENT, COMMIT with `evict` arguments):
// the same choice as the EVICT script (eviction.ts; expired entries first,
// then the least recently used quarter of windows of the index taken round
// from the shared hand), but planned before anything is deleted: the
// entries go only when the write then fits, so a refused write evicts
// nothing and Redis never needs a rollback. The keys being written
// (`excluded`, a set of names) are never candidates: evicting one would
// free room the write itself takes back. The script defines `U` (the read
// stamps key) before this, at its own place in KEYS. Returns how many went
// (nil = no room) and the evictions so far.
const ROOM = `
${BY_LAST_USE}${EXPIRED}local function room(m, excluded, addK, addB, maxB, maxK, batch, maxRows, now)
  local prefix = string.sub(M, 1, -2) .. 'e'
  local needK, needB = m.keys + addK - maxK, m.bytes + addB - maxB
  local cap = maxK
  if m.keys > 0 and m.bytes > 0 then cap = math.min(maxK, maxB / (m.bytes / m.keys)) end
  local atLeast = math.max(1, math.min(batch, math.floor(cap / 16)))
  local plan, seen, freedK, freedB, lru = {}, {}, 0, 0, 0
  -- Expired entries are a batch of their own: once some were found, no
  -- live entry goes beyond what the write needs.
  local function enough()
    return freedK >= needK and freedB >= needB and (freedK >= atLeast or (freedK > 0 and lru == 0))
  end
  local function take(k, isLru)
    if excluded[k] or seen[k] then return end
    local size = redis.call('HGET', S, k)
    if not size then return end
    seen[k] = true
    plan[#plan + 1] = k
    freedK = freedK + 1
    freedB = freedB + tonumber(size)
    if isLru then lru = lru + 1 end
  end
  -- A member of X at or before now may be stale (see EXPIRED): only
  -- entries expired for real are taken; nothing is written before the
  -- plan holds.
  local nowN = tonumber(now)
  for _, k in ipairs(redis.call('ZRANGEBYSCORE', X, '-inf', now, 'LIMIT', 0, maxRows + 1)) do
    if enough() or freedK >= maxRows then break end
    if expired(prefix, k, nowN) then take(k, false) end
  end
  local hand = redis.call('HGET', M, 'hand') or ''
  local windows = 0
  while not enough() and freedK < maxRows and windows < 64 do
    windows = windows + 1
    local lo = '-'
    if hand ~= '' then lo = '(' .. hand end
    local rows = redis.call('ZRANGEBYLEX', I, lo, '+', 'LIMIT', 0, 256)
    if #rows == 0 then
      if hand == '' then break end
      hand = ''
    else
      if #rows < 256 then hand = '' else hand = rows[#rows] end
      local cand = by_last_use(rows, prefix, U)
      local cap4 = math.max(1, math.floor(#rows / 4))
      for j = 1, math.min(cap4, #cand) do
        if enough() or freedK >= maxRows then break end
        take(cand[j][1], true)
      end
    end
  end
  if freedK < needK or freedB < needB then return nil end
  for _, k in ipairs(plan) do
    redis.call('DEL', prefix .. k)
    redis.call('HDEL', S, k)
    redis.call('ZREM', I, k)
    redis.call('ZREM', X, k)
    redis.call('ZREM', W, k)
    redis.call('ZREM', U, k)
  end
  m.keys, m.bytes = m.keys - freedK, m.bytes - freedB
  redis.call('HSET', M, 'hand', hand)
  return #plan, redis.call('HINCRBY', M, 'evictions', lru)
end
`;

// The one-key write scripts (SET, INCREMENT, CHECK_SET) are written flat,
// from the blocks below: no closures and no counters table (COMMIT's
// `meta`, `put` and `save`), since each closure, table and call costs
// server time on every run, and server time is most of a write's cost.
// The blocks share these locals: `e` and `key` (ONE_KEY); `present` (the
// entry exists, expired or not), `old` (its size, from the entry or the
// sizes hash), `q`, `size`, `sizeS`, `value`, `xat`, `now` and `keep` (see
// `store`), set by each script; `keys`, `bytes`, `seq` (READ_META);
// then `oldN`, `sized`, `evicted`, `total` (FIT).
const ONE_KEY = KEYS5 + `
local e, key = KEYS[6], ARGV[1]
`;
// SET's and CHECK_SET's value arguments, as the blocks below name them.
const VALUE_ARGS = `
local value, xat, size, sizeS, now, keep = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[4], ARGV[5], false
`;
// The namespace's counters, and the version this write gives its entry.
// Counters are written with string.format('%d'), so they always read
// back as plain decimals.
const READ_META = `
local u = redis.call('HMGET', M, 'keys', 'bytes', 'seq')
local keys, bytes = tonumber(u[1] or 0), tonumber(u[2] or 0)
local k0, b0 = keys, bytes
local seq = string.format('%d', tonumber(u[3] or 0) + 1)
`;

// At the quota with eviction asked for (ARGV[10], a batch size): make
// room, or say why not. A block, not a function: its closures (ROOM's) are
// created only on the runs that evict, not on every write. Sets
// `evicted, total` (nil when the write cannot land). KEYS[7] is the read
// stamps key, passed with eviction or a sender.
const MAKE_ROOM = `
local batch = tonumber(ARGV[10] or '')
if batch and size - (oldN or 0) <= maxB and (oldN and 0 or 1) <= maxK then
  local U = KEYS[7]
${ROOM}
  local m = {keys = keys, bytes = bytes}
  evicted, total = room(m, {[key] = true}, oldN and 0 or 1, size - (oldN or 0), maxB, maxK, batch, tonumber(ARGV[11]), ARGV[5])
  keys, bytes = m.keys, m.bytes
else
  evicted = nil
end
`;

/**
 * The size the key had (see OLD), then the quota check of a one-key
 * write, answering `refusal` when the write does not fit even after
 * eviction. An entry that is not there may still
 * have a size record (Redis expired the entry; the records go when a
 * reader meets them), which would make the write an overwrite: the check
 * first assumes a new key (the most it can cost) and asks the sizes hash
 * only when that does not fit. Otherwise WRITE_ONE learns it from the
 * index, which it writes anyway. `sized`: `oldN` is known for sure.
 */
const fit = (refusal: string) => `
-- An entry written by the earlier layout has no \`s\`: the sizes hash has it.
if present and not old then old, q = redis.call('HGET', S, key), nil end
local oldN, sized = old and tonumber(old), present
local maxB, maxK = tonumber(ARGV[6]), tonumber(ARGV[7])
local evicted, total = 0, -1
if maxB and (bytes - (oldN or 0) + size > maxB or keys + (oldN and 0 or 1) > maxK) then
  if not sized then
    oldN, q, sized = tonumber(redis.call('HGET', S, key) or ''), nil, true
  end
  if bytes - (oldN or 0) + size > maxB or keys + (oldN and 0 or 1) > maxK then
${MAKE_ROOM}
    if not evicted then return ${refusal} end
  end
end
`;

/**
 * The write of a one-key script once it fits: a key with no entry goes
 * into the index first (its answer says whether Redis expired an entry
 * unseen, see `fit`), then the entry and its bookkeeping (`store`), then
 * the namespace's counters, only those that changed.
 */
const WRITE_ONE = `
local indexed = false
if not sized then
  indexed = true
  if redis.call('ZADD', I, 0, key) == 0 then
    -- Indexed without an entry: Redis expired it, its records remain.
    oldN, q = tonumber(redis.call('HGET', S, key) or ''), nil
  end
end
${store("tonumber(ARGV[8] or '') or 0")}
if keys == k0 and bytes == b0 then
  redis.call('HSET', M, 'seq', seq)
else
  redis.call('HSET', M, 'seq', seq, 'keys', string.format('%d', keys), 'bytes', string.format('%d', bytes))
end
`;

// A write made for a sender (ARGV[9]) marks its entry and adds it to the
// namespace's attribution set (KEYS[8]; attribution.ts), in the write's
// own script, so the two land together or not at all.
const MARK = `
local sender = ARGV[9]
if sender and sender ~= '' and redis.call('EXISTS', e) == 1 then
  redis.call('HSET', e, 'a' .. sender, '1')
  redis.call('ZADD', KEYS[8], 0, #sender .. ':' .. sender .. key)
end
`;

// The reply of a one-key write that landed: `head` (the script's own
// first fields), the usage, then what was evicted only when something
// was (a shorter reply costs less to send and to read).
const landed = (head: string) => `
if evicted > 0 then return {${head}, keys, bytes, evicted, total} end
return {${head}, keys, bytes}
`;

/**
 * The reply of SET_CHANGE and INCREMENT_CHANGE: `change`, one integer,
 * when `when` holds (it tells the client all it needs), else
 * {@link landed}'s. An integer reply costs the client 2–3 µs less than
 * an array (docs/scale-out.md, "Measured"), and the totals the array
 * would carry the client has already: it adds the change to the last
 * totals it heard (RedisBackend.#wantTotals).
 */
const landedChange = (head: string, change: string, when = "true") => `
if evicted == 0 and ${when} then return ${change} end
${landed(head)}
`;

/**
 * KEYS: 5 fixed, entry, then (only with a sender or eviction) read stamps
 * and attributions: every key a script may touch is declared, so a
 * cluster answers TRYAGAIN or ASK during a slot migration instead of
 * letting it reach a key that has moved. ARGV: key, value, expiresAt or "", size, now,
 * maxBytes or "", maxKeys or "", then optionally the clock skew ("" = 0),
 * then optionally sender or "", eviction batch or "" (no eviction),
 * eviction maxRows. Returns {1 written or 0 over quota, keys, bytes}, then
 * entries evicted and the evictions so far when it evicted: every write
 * script ends with the namespace's usage (or, {@link SET_CHANGE}, the
 * change to it), so the client knows it without another request.
 *
 * Lean on purpose: server time is most of a write's cost, and each
 * closure a script defines, each command and each argument costs on every
 * run, so the eviction and attribution code sits in blocks that only the
 * runs needing them enter.
 */
export const SET: LuaScript = luaScript("set", setSource(landed("1")));

/**
 * {@link SET} answering, when it landed without evicting, the change it
 * made to the namespace's counters as one integer: 2 × bytes added + keys
 * added (0 or 1). The client uses it once it knows the totals
 * (RedisBackend.#wantTotals).
 */
export const SET_CHANGE: LuaScript = luaScript(
  "set-change",
  setSource(landedChange("1", "(bytes - b0) * 2 + keys - k0")),
);

// SET's Lua, ending with `reply`: SET and SET_CHANGE differ only there.
function setSource(reply: string): string {
  return `#!lua
${ONE_KEY}
-- The entry's own size and score (see OLD), else the bookkeeping's; its
-- version only says whether it is there.
local h = redis.call('HMGET', e, 's', 'q', 'n')
local old, q, present = h[1], h[2] or nil, h[3] and true or false
${VALUE_ARGS}
${READ_META}
${fit("{0, keys, bytes}")}
${WRITE_ONE}
${MARK}
${reply}
`;
}

/** KEYS: 5 fixed, entry. ARGV: key, now. Returns {1 when a live entry went, keys, bytes}. */
export const DELETE: LuaScript = luaScript(
  "delete",
  `#!lua
${HEAD + FORGET}
local e, key, now = KEYS[6], ARGV[1], tonumber(ARGV[2])
local x = redis.call('HGET', e, 'x')
local live = x and (x == '' or tonumber(x) > now)
redis.call('DEL', e)
forget(key)
return {live and 1 or 0, usage()}
`,
);

// Walks the index from `lo`, skipping keys expired at `now`, until `limit`
// live keys are found. One script, so a page is a snapshot: a writer
// cannot slip a key between two batches of the walk. First it settles the
// members of X at or before now, up to 1,000 (forgets the expired ones,
// moves the stale ones up to their real expiry; see EXPIRED); when that
// covers them all, the index range is the answer as it is. `dead` is how
// many expired entries were found.
const WALK = `
local lo, hi, limit, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local prefix = string.sub(M, 1, -2) .. 'e'
local budget = 1000
local found, dead, clean = {}, 0, true
if redis.call('ZCOUNT', X, '-inf', now) > 0 then
  local due = redis.call('ZRANGEBYSCORE', X, '-inf', now, 'LIMIT', 0, budget)
  dead = dropDue(prefix, due, now)
  clean = #due < budget
end
if clean then
  found = redis.call('ZRANGEBYLEX', I, lo, hi, 'LIMIT', 0, limit)
  limit = 0
end
while #found < limit do
  local want = limit - #found
  local batch = redis.call('ZRANGEBYLEX', I, lo, hi, 'LIMIT', 0, want)
  for _, k in ipairs(batch) do
    local x = redis.call('ZSCORE', X, k)
    if not (x and tonumber(x) <= now and expired(prefix, k, now)) then
      found[#found + 1] = k
    end
  end
  if #batch < want then break end
  lo = '(' .. batch[#batch]
end
`;

/**
 * KEYS: 5 fixed. ARGV: lo, hi (ZRANGEBYLEX bounds), limit, now. Returns
 * {expired entries found, the live keys in byte order}.
 */
export const LIST: LuaScript = luaScript(
  "list",
  `#!lua
${HEAD + FORGET + EXPIRED + DROP_DUE}
${WALK}
return {dead, found}
`,
);

/**
 * KEYS: 5 fixed. ARGV: lo, hi, limit, now, entry key prefix. Returns
 * key, value, version, writtenAt, expiresAt ("" = never) for each live
 * entry, flattened. The entry keys share the namespace's hash tag, so they
 * are in the slot the fixed keys route to.
 */
export const SCAN: LuaScript = luaScript(
  "scan",
  `#!lua
${HEAD + FORGET + EXPIRED + DROP_DUE}
${WALK}
local out = {}
for _, k in ipairs(found) do
  local h = redis.call('HMGET', ARGV[5] .. k, 'v', 'n', 'w', 'x')
  if h[1] then
    out[#out + 1] = k
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
    out[#out + 1] = h[3]
    out[#out + 1] = h[4]
  end
end
return out
`,
);

/**
 * KEYS and ARGV as SET, with the amount in place of the value and the key's
 * own size in place of the entry's (the value is the sum's text); a new
 * counter takes expiresAt, an existing one keeps its expiry.
 * Returns {1 (ok), the sum as text}, {2 (not an integer), its first 64
 * bytes}, {3 (overflow), ""} or {4 (over quota), ""}, then keys and
 * bytes, then entries evicted and the evictions so far (only after ok,
 * and only when it evicted).
 * The sum is an integer reply below 10^15 in magnitude, text above:
 * node-redis reads an integer reply near 2^53 one off (it adds each digit
 * before it subtracts the '0'), and a text reply costs the client more to
 * read than an integer (~5 µs a call, measured in the bench).
 */
export const INCREMENT: LuaScript = luaScript(
  "increment",
  incrementSource(landed("1, out")),
);

/**
 * {@link INCREMENT} answering, when it landed without evicting, one
 * integer: 2 × the sum + keys added (0 or 1), from which the client knows
 * the bytes added too: the new counter's size, or the sum's digits less
 * the old value's. Only when that is so (not after Redis expired an entry
 * unseen, say) and the sum is below 5 × 10^14 in magnitude (the integer
 * stays below 10^15, see INCREMENT); otherwise INCREMENT's reply.
 */
export const INCREMENT_CHANGE: LuaScript = luaScript(
  "increment-change",
  incrementSource(
    landedChange(
      "1, out",
      "sum * 2 + keys - k0",
      "sum > -5e14 and sum < 5e14 and bytes - b0 == (keys > k0 and size or #value - #string.format('%d', n))",
    ),
  ),
);

// INCREMENT's Lua, ending with `reply` (as setSource).
function incrementSource(reply: string): string {
  return `#!lua
${ONE_KEY}
local cur = redis.call('HMGET', e, 'v', 'x', 's', 'q')
local v, x, now = cur[1], cur[2], ARGV[5]
${READ_META}
local n, xat, keep = 0, ARGV[3], false
if v and (x == '' or tonumber(x) > tonumber(now)) then
  -- The same rule as the SQLite path: an optional minus, no leading zeros,
  -- and exactly representable (at most 2^53 - 1 in magnitude).
  local digits = string.match(v, '^%-?(%d+)$')
  if not digits or (#digits > 1 and string.sub(digits, 1, 1) == '0')
    or #digits > 16 or (#digits == 16 and digits > '9007199254740991') then
    return {2, string.sub(v, 1, 64), keys, bytes}
  end
  n = tonumber(v)
  xat, keep = x, true
end
local sum = n + tonumber(ARGV[2])
if sum > 9007199254740991 or sum < -9007199254740991 then return {3, '', keys, bytes} end
local value = string.format('%d', sum)
local size = tonumber(ARGV[4]) + #value
local sizeS = string.format('%d', size)
-- The entry's own size and score (see OLD), else the bookkeeping's.
local old, q, present = cur[3], cur[4] or nil, v and true or false
${fit("{4, '', keys, bytes}")}
${WRITE_ONE}
${MARK}
local out = value
if sum > -1e15 and sum < 1e15 then out = sum end
${reply}
`;
}

/**
 * The common `atomic()` commit, one key checked and set: the SET script with
 * the version check in front, without COMMIT's general batch (its loops,
 * tables and closures cost server time on every run). KEYS and ARGV as SET
 * (ARGV[9], the sender, is ignored: commits are not attributed here), then
 * ARGV[12] the version the key must have ("" = must not exist). Returns
 * {1 ok | 2 check | 3 quota, keys, bytes}, then entries evicted and the
 * evictions so far when it evicted; anything but ok wrote and evicted
 * nothing. Numbers, not COMMIT's words: an integer reply costs the client
 * less to read than a text one.
 */
export const CHECK_SET: LuaScript = luaScript(
  "check-set",
  `#!lua
${ONE_KEY}
local h = redis.call('HMGET', e, 'n', 'x', 's', 'q')
${VALUE_ARGS}
local have = ''
if h[1] and (h[2] == '' or tonumber(h[2]) > tonumber(now)) then have = h[1] end
${READ_META}
if have ~= ARGV[12] then return {2, keys, bytes} end
-- The entry's own size and score (see OLD), else the bookkeeping's.
local old, q, present = h[3], h[4] or nil, h[1] and true or false
${fit("{3, keys, bytes}")}
${WRITE_ONE}
${landed("1")}
`,
);

/**
 * KEYS: 5 fixed, then one entry key per distinct key, then the read stamps
 * key when eviction is asked for (last, so the entry keys keep their
 * places; it shares the namespace's hash tag). ARGV: now, maxBytes or
 * "", maxKeys or "", k, the k key names, the number of checks, (key index,
 * version or "") per check, the number of writes, (type "s"/"d", key index,
 * value, expiresAt or "", size) per write, eviction batch or "" (no
 * eviction), eviction maxRows, clock skew ("" = 0). Returns {"ok" |
 * "check" | "quota", keys, bytes, entries evicted, evictions so far or
 * -1}; it decides (and plans its evictions) before its first write, so
 * anything but "ok" wrote and evicted nothing.
 */
export const COMMIT: LuaScript = luaScript(
  "commit",
  `#!lua
${HEAD + META + FORGET + PUT}
local now, maxB, maxK = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local k = tonumber(ARGV[4])
local names = {}
for j = 1, k do names[j] = ARGV[4 + j] end
local p = 5 + k
local nc = tonumber(ARGV[p])
p = p + 1
-- A checked entry's size and score (see OLD) come with its version.
local known = {}
for c = 1, nc do
  local j, want = tonumber(ARGV[p]), ARGV[p + 1]
  p = p + 2
  local cur = redis.call('HMGET', KEYS[5 + j], 'n', 'x', 's', 'q')
  local have = ''
  if cur[1] and (cur[2] == '' or tonumber(cur[2]) > now) then have = cur[1] end
  if have ~= want then return {'check', usage()} end
  if cur[3] then known[j] = cur end
end
local nm = tonumber(ARGV[p])
p = p + 1
local state = meta()
if nm == 0 then return {'ok', state.keys, state.bytes, 0, -1} end
local muts = {}
local sizes = {}
-- Each named key's size before the batch (false: not stored), read once.
local before = {}
-- Each named key's score in X as far as known (nil: ask X).
local scores = {}
local keys, bytes = state.keys, state.bytes
-- The quota holds after every set of the batch, in order: eviction has to
-- make room for the fullest point (keys and bytes apart), not the end.
local over, peakK, peakB = false, 0, 0
for q = 1, nm do
  local m = {t = ARGV[p], j = tonumber(ARGV[p + 1]), v = ARGV[p + 2], x = ARGV[p + 3], size = tonumber(ARGV[p + 4])}
  p = p + 5
  muts[q] = m
  local name = names[m.j]
  local old = sizes[name]
  if old == nil then
    local kn = known[m.j]
    if kn then
      old = tonumber(kn[3])
      scores[name] = kn[4] or nil
    else
      old = redis.call('HGET', S, name)
      if old then old = tonumber(old) end
    end
    before[name] = old
  end
  if m.t == 'd' then
    if old then
      keys = keys - 1
      bytes = bytes - old
    end
    sizes[name] = false
  else
    local nb = bytes - (old or 0) + m.size
    local nk = keys + (old and 0 or 1)
    if maxB and (nb > maxB or nk > maxK) then over = true end
    if nk > peakK then peakK = nk end
    if nb > peakB then peakB = nb end
    bytes, keys = nb, nk
    sizes[name] = m.size
  end
end
local batch, maxRows = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
local skew = tonumber(ARGV[p + 2] or '') or 0
local evicted, total = 0, -1
if over then
  local U = KEYS[6 + k]
  if not (batch and U) then return {'quota', state.keys, state.bytes, 0, -1} end
${ROOM}
  -- Every key the commit names stays: its checks passed and its writes
  -- are what the room is for.
  local excluded = {}
  for j = 1, k do excluded[names[j]] = true end
  evicted, total = room(state, excluded, peakK - state.keys, peakB - state.bytes, maxB, maxK, batch, maxRows, ARGV[1])
  if not evicted then return {'quota', state.keys, state.bytes, 0, -1} end
end
for q = 1, nm do
  local m = muts[q]
  local name, e = names[m.j], KEYS[5 + m.j]
  local old = before[name]
  if m.t == 'd' then
    redis.call('DEL', e)
    if old then forget(name, state) end
    before[name] = false
    scores[name] = nil
  else
    scores[name] = put(state, e, name, m.v, m.x, m.size, ARGV[1], old or nil, skew, scores[name], false)
    before[name] = m.size
  end
end
save(state)
return {'ok', state.keys, state.bytes, evicted, total}
`,
);

/**
 * KEYS: 5 fixed. ARGV: entry key prefix. Deletes every entry and the
 * bookkeeping, keeping the version sequence and the counters; returns how
 * many entries there were (then 0, 0: the usage after). One script, so it is atomic like SQLite's
 * `DELETE`; it blocks the server for as long as the namespace is big.
 */
export const CLEAR: LuaScript = luaScript(
  "clear",
  `#!lua
${HEAD}
local n = redis.call('ZCARD', I)
local start = 0
while true do
  local batch = redis.call('ZRANGE', I, start, start + 999)
  if #batch == 0 then break end
  for _, k in ipairs(batch) do redis.call('DEL', ARGV[1] .. k) end
  start = start + 1000
end
redis.call('DEL', I, S, X, W)
redis.call('HSET', M, 'keys', 0, 'bytes', 0)
return {n, 0, 0}
`,
);

/**
 * KEYS: 5 fixed. ARGV: now, limit. Looks at up to `limit` members of the
 * expiry set at or before `now` and forgets those expired (Redis has
 * already deleted, or deletes at the same instant, the entries
 * themselves); a stale member (see EXPIRED) moves up to its entry's real
 * expiry. Returns {forgotten, looked at, keys, bytes}.
 */
export const PURGE: LuaScript = luaScript(
  "purge",
  `#!lua
${HEAD + FORGET + EXPIRED + DROP_DUE}
local now = tonumber(ARGV[1])
local prefix = string.sub(M, 1, -2) .. 'e'
local ks = redis.call('ZRANGEBYSCORE', X, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = dropDue(prefix, ks, now)
local keys, bytes = usage()
return {n, #ks, keys, bytes}
`,
);

/**
 * KEYS: 5 fixed. Sets `keys` and `bytes` from the index and the sizes
 * (which scripts keep in step with every write, so this only matters
 * after someone edited the keys by hand). Returns 1 when it changed them.
 */
export const RECOUNT: LuaScript = luaScript(
  "recount",
  `#!lua
${HEAD}
local keys = redis.call('ZCARD', I)
local bytes = 0
for _, size in ipairs(redis.call('HVALS', S)) do bytes = bytes + tonumber(size) end
local u = redis.call('HMGET', M, 'keys', 'bytes')
if tonumber(u[1] or 0) == keys and tonumber(u[2] or 0) == bytes then return 0 end
redis.call('HSET', M, 'keys', keys, 'bytes', bytes)
return 1
`,
);

/**
 * KEYS: 5 fixed. Returns keys, bytes, hits, misses, earliest expiry ("" =
 * none), earliest write ("" = none), evictions, all as text.
 *
 * The write-time set holds each key's creation time, at or before its
 * entry's \`w\` (an overwrite does not touch it; see PUT). The first member
 * is the oldest write when its score is its entry's \`w\`; a stale one is
 * moved up to it and the next looked at (each overwrite costs at most one
 * such step, once), up to 100 per call, so a call stays bounded; after 100
 * the answer is a lower bound. Data written by the layout that scored
 * every write is already exact, so it reads the same.
 */
export const USAGE: LuaScript = luaScript(
  "usage",
  `#!lua
local u = redis.call('HMGET', KEYS[1], 'keys', 'bytes', 'hits', 'misses', 'evictions')
local prefix = string.sub(KEYS[1], 1, -2) .. 'e'
-- The expiry set's first member is at or before its entry's real expiry
-- (see EXPIRED): a stale one moves up and the next is looked at, as for
-- the write-time set below.
local x
for _ = 1, 100 do
  x = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  if #x == 0 then break end
  local at = redis.call('HGET', prefix .. x[1], 'x')
  if not at or at == '' or tonumber(at) <= tonumber(x[2]) then break end
  redis.call('ZADD', KEYS[4], at, x[1])
  redis.call('HSET', prefix .. x[1], 'q', at)
end
local w
for _ = 1, 100 do
  w = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if #w == 0 then break end
  local at = redis.call('HGET', prefix .. w[1], 'w')
  if not at or tonumber(at) <= tonumber(w[2]) then break end
  redis.call('ZADD', KEYS[5], at, w[1])
end
return {u[1] or '0', u[2] or '0', u[3] or '0', u[4] or '0', x[2] or '', w[2] or '', u[5] or '0'}
`,
);

/** KEYS: meta. ARGV: hits, misses. */
export const COUNTERS: LuaScript = luaScript(
  "counters",
  `#!lua
if ARGV[1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'hits', ARGV[1]) end
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'misses', ARGV[2]) end
return 1
`,
);
