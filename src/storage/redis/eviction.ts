/**
 * Eviction on Redis: the optional `Backend` primitives `getValueUsed`,
 * `touch`, `counts` and `evict`, with the SQLite backend's semantics, as
 * Lua scripts on the namespace's hash slot (so they stay atomic in a
 * cluster). The Redis backend calls these; the cache layer decides when.
 *
 * What they keep, next to a namespace's other keys (same hash tag):
 *
 * ```
 * P{T}u   sorted set: key -> last recorded read (ms), written by touch
 * P{T}m   the meta hash also holds `evictions` (a counter) and `hand`
 *         (where the next eviction window starts, shared by every process)
 * ```
 *
 * A key's last use is the later of its write time (the entry's `w`) and
 * its recorded read, as on SQLite. A stamp left by an entry that is gone
 * is harmless (a new entry's write time is later than any read of the old
 * one) and is dropped by eviction or by the attribution sweep
 * (`attribution.ts`), a bounded number per step.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { EvictionResult, Quota, UsedValue } from "../backend.ts";
import type { RedisLink } from "./connection.ts";
import type { NamespaceKeys } from "./keys.ts";
import { BY_LAST_USE, EXPIRED, luaScript } from "./scripts.ts";

/**
 * The read-stamp key of a namespace: the namespace's head (`P{T}`) and the
 * tail `u`. Tails are one letter (`m i s x w u a`) or `e` and a key, so the
 * layout stays a prefix code (see keys.ts).
 *
 * @example
 * ```ts
 * import { NamespaceKeys } from "./keys.ts";
 * import { usedKey } from "./eviction.ts";
 * console.log(usedKey(new NamespaceKeys("sc:", 0, "n"))); // "sc:{0n}u"
 * ```
 */
export function usedKey(k: NamespaceKeys): string {
  return k.meta.slice(0, -1) + "u";
}

/**
 * KEYS: entry, read stamps. ARGV: key, now. The live value and its last
 * use (max of write and recorded read), or nil.
 */
const GET_USED = luaScript(
  "get-used",
  `#!lua flags=no-writes
local h = redis.call('HMGET', KEYS[1], 'v', 'x', 'w')
if not h[1] then return false end
if h[2] ~= '' and h[2] and tonumber(h[2]) <= tonumber(ARGV[2]) then return false end
local used = tonumber(h[3] or 0)
local r = redis.call('ZSCORE', KEYS[2], ARGV[1])
if r and tonumber(r) > used then used = tonumber(r) end
return {h[1], string.format('%d', used)}
`,
);

/**
 * KEYS: sizes, read stamps. ARGV: (key, ms) pairs. Stamps only keys that
 * are stored, and a stamp only moves forward (ZADD GT).
 */
const TOUCH = luaScript(
  "touch",
  `#!lua
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], 'GT', ARGV[i + 1], ARGV[i])
  end
end
return 1
`,
);

/** Keys one eviction window looks at (as SQLite's EVICT_WINDOW). */
export const EVICT_WINDOW = 256;
/** Windows one eviction may look at before it gives up. */
const EVICT_MAX_WINDOWS = 64;

/**
 * KEYS: meta, index, sizes, expiries, writes, read stamps. ARGV: entry
 * prefix, keys to add, bytes to add, maxBytes, maxKeys, atLeast, maxRows,
 * now, window. Deletes expired entries first (oldest expiry first), then
 * the least recently used of windows of the index taken round the
 * namespace from a hand kept in the meta hash, at most a quarter of each
 * window, until the write fits and `atLeast` are gone, or `maxRows` are
 * gone. Returns {entries deleted, their bytes, keys, bytes, evictions}.
 */
const EVICT = luaScript(
  "evict",
  `#!lua
local M, I, S, X, W, U = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix = ARGV[1]
local addK, addB = tonumber(ARGV[2]), tonumber(ARGV[3])
local maxB, maxK = tonumber(ARGV[4]), tonumber(ARGV[5])
local atLeast, maxRows, now, window = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local u = redis.call('HMGET', M, 'keys', 'bytes', 'hand')
local keys, bytes, hand = tonumber(u[1] or 0), tonumber(u[2] or 0), u[3] or ''
local needK, needB = keys + addK - maxK, bytes + addB - maxB
local freedK, freedB, evicted = 0, 0, 0
local function enough()
  return freedK >= needK and freedB >= needB and freedK >= atLeast
end
${BY_LAST_USE}${EXPIRED}
local function drop(k)
  local size = redis.call('HGET', S, k)
  redis.call('DEL', prefix .. k)
  if not size then return end
  redis.call('HDEL', S, k)
  redis.call('ZREM', I, k)
  redis.call('ZREM', X, k)
  redis.call('ZREM', W, k)
  redis.call('ZREM', U, k)
  freedK = freedK + 1
  freedB = freedB + tonumber(size)
end
if not enough() then
  -- X's scores are at or before the real expiry (scripts.ts, EXPIRED):
  -- only entries expired for real go.
  local dead = redis.call('ZRANGEBYSCORE', X, '-inf', now, 'LIMIT', 0, maxRows)
  for _, k in ipairs(dead) do
    if enough() or freedK >= maxRows then break end
    if expired(prefix, k, now) then drop(k) end
  end
end
local windows = 0
while not enough() and freedK < maxRows and windows < ${EVICT_MAX_WINDOWS} do
  windows = windows + 1
  local lo = '-'
  if hand ~= '' then lo = '(' .. hand end
  local rows = redis.call('ZRANGEBYLEX', I, lo, '+', 'LIMIT', 0, window)
  if #rows == 0 then
    if hand == '' then break end
    hand = ''
  else
    if #rows < window then hand = '' else hand = rows[#rows] end
    local cand = by_last_use(rows, prefix, U)
    local cap = math.max(1, math.floor(#rows / 4))
    for j = 1, math.min(cap, #cand) do
      if enough() or freedK >= maxRows then break end
      local before = freedK
      drop(cand[j][1])
      if freedK > before then evicted = evicted + 1 end
    end
  end
end
redis.call('HSET', M, 'hand', hand)
if freedK > 0 then
  keys, bytes = keys - freedK, bytes - freedB
  redis.call('HSET', M, 'keys', string.format('%d', keys), 'bytes', string.format('%d', bytes))
end
local total = redis.call('HINCRBY', M, 'evictions', evicted)
return {freedK, freedB, keys, bytes, total}
`,
);

/** The live value and its last use, or `undefined` (see `Backend.getValueUsed`). */
export async function getValueUsed(
  link: RedisLink,
  k: NamespaceKeys,
  key: string,
  now: number,
): Promise<UsedValue | undefined> {
  const entry = k.entry(key);
  const found = await link.run<[Buffer, Buffer] | null>(
    GET_USED,
    [entry, usedKey(k)],
    [key, String(now)],
    true,
  );
  if (found === null) return undefined;
  return {
    value: new Uint8Array(found[0]),
    usedAt: Number(found[1].toString("latin1")),
  };
}

/** Record reads (see `Backend.touch`): one script for the whole batch. */
export async function touch(
  link: RedisLink,
  k: NamespaceKeys,
  reads: ReadonlyMap<string, number>,
): Promise<void> {
  if (reads.size === 0) return;
  const args: string[] = [];
  for (const [key, at] of reads) args.push(key, String(at));
  await link.run(TOUCH, [k.sizes, usedKey(k)], args);
}

/**
 * Keys and bytes from the namespace's counters (see `Backend.counts`).
 *
 * @example
 * ```ts ignore
 * import { RedisBackend } from "./backend.ts";
 * const b = await RedisBackend.open({ url: "redis://127.0.0.1:6379" });
 * console.log(await b.counts(0, "weather")); // { keys: 0, bytes: 0 }
 * await b.close();
 * ```
 */
export async function counts(
  link: RedisLink,
  k: NamespaceKeys,
): Promise<{ keys: number; bytes: number }> {
  const [keys, bytes] = await link.command<(string | null)[]>(
    "counts",
    k.meta,
    true,
    ["HMGET", k.meta, "keys", "bytes"],
  );
  return { keys: Number(keys ?? 0), bytes: Number(bytes ?? 0) };
}

/** What {@link evict} did, with the namespace's usage after it. */
export interface EvictionOutcome extends EvictionResult {
  /** Stored entries after the eviction. */
  usedKeys: number;
  /** Stored bytes after the eviction. */
  usedBytes: number;
  /** Evictions of the namespace so far, all processes. */
  evictions: number;
}

/**
 * Make room (see `Backend.evict`) in one script: expired entries first,
 * then the least recently used; counts the evictions in the meta hash.
 */
export async function evict(
  link: RedisLink,
  k: NamespaceKeys,
  keys: number,
  bytes: number,
  quota: Quota,
  atLeast: number,
  maxRows: number,
  now: number,
): Promise<EvictionOutcome> {
  const r = await link.run<number[]>(EVICT, [...k.fixed, usedKey(k)], [
    k.entryPrefix,
    String(keys),
    String(bytes),
    String(quota.maxBytes),
    String(quota.maxKeys),
    String(atLeast),
    String(maxRows),
    String(now),
    String(EVICT_WINDOW),
  ]);
  return {
    keys: Number(r[0]),
    bytes: Number(r[1]),
    usedKeys: Number(r[2]),
    usedBytes: Number(r[3]),
    evictions: Number(r[4]),
  };
}
