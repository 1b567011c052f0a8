/**
 * Who entries were written for, on Redis: the optional `Backend`
 * primitives `attribute`, `forgetCandidates`, `dropAttributions` and
 * `pruneAttributions`, with the SQLite backend's semantics, as Lua scripts
 * on each namespace's hash slot.
 *
 * Two records per attribution, both in the namespace's slot:
 *
 * - a field `a<sender>` in the entry's hash. It is the SQLite epoch's twin:
 *   an overwrite (HSET of `v n w x`) keeps it, while a delete, an eviction,
 *   `clear`, a sweep of the expired entry or Redis's own expiry removes the
 *   whole hash, so an entry created again later starts without it. An
 *   entry is the sender's only while its hash carries the field.
 * - a member `<len>:<sender><key>` of the sorted set `P{T}a` (all scores
 *   0), where `<len>` is the sender's length in UTF-8 bytes in decimal:
 *   the members of one sender are exactly those starting with
 *   `<len>:<sender>` (decimal digits then `:` make that prefix unique), so
 *   one `ZRANGEBYLEX` finds them, and the set pages in a stable order for
 *   the sweep.
 *
 * Forget across namespaces reads the namespace registry, then works one
 * namespace (one slot) at a time.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { ForgetCandidate, Space } from "../backend.ts";
import type { RedisLink } from "./connection.ts";
import { usedKey } from "./eviction.ts";
import { luaScript } from "./scripts.ts";
import type { NamespaceKeys } from "./keys.ts";

/**
 * The attribution set of a namespace: its head (`P{T}`) and the tail `a`.
 *
 * @example
 * ```ts
 * import { NamespaceKeys } from "./keys.ts";
 * import { attributionKey } from "./attribution.ts";
 * console.log(attributionKey(new NamespaceKeys("sc:", 1, "n"))); // "sc:{1n}a"
 * ```
 */
export function attributionKey(k: NamespaceKeys): string {
  return k.meta.slice(0, -1) + "a";
}

/**
 * The attribution member of (sender, key); see the module doc.
 *
 * @example
 * ```ts
 * import { attributionMember } from "./attribution.ts";
 * console.log(attributionMember("ada", "lang")); // "3:adalang"
 * ```
 */
export function attributionMember(sender: string, key: string): string {
  return `${Buffer.byteLength(sender)}:${sender}${key}`;
}

// Lua: the members of one sender, and a member split back into its parts.
const SENDER_RANGE = `
local function senderPrefix(s) return #s .. ':' .. s end
local function ofSender(A, s)
  local p = senderPrefix(s)
  return redis.call('ZRANGEBYLEX', A, '[' .. p, '(' .. p .. string.char(255)), #p
end
local function split(m)
  local digits = string.match(m, '^(%d+):')
  local n = tonumber(digits)
  local s = string.sub(m, #digits + 2, #digits + 1 + n)
  return s, string.sub(m, #digits + 2 + n)
end
`;

/**
 * KEYS: entry, attributions. ARGV: key, sender. Marks a stored entry as
 * written for the sender; an entry that is gone gets nothing.
 */
const ATTRIBUTE = luaScript(
  "attribute",
  `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'a' .. ARGV[2], '1')
redis.call('ZADD', KEYS[2], 0, #ARGV[2] .. ':' .. ARGV[2] .. ARGV[1])
return 1
`,
);

/**
 * KEYS: index, attributions. ARGV: sender, entry prefix, cursor ("" =
 * start), limit. One bounded step of finding a sender's entries: on the
 * first step, the stored entries still marked as theirs; on every step,
 * up to `limit` index keys after the cursor that have the sender as a
 * whole `:`-separated segment. Returns {n, n sender keys, m, m segment
 * keys, next cursor or ""}.
 */
const FIND = luaScript(
  "forget-find",
  `#!lua flags=no-writes
${SENDER_RANGE}
local I, A = KEYS[1], KEYS[2]
local s, prefix, cursor, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {0}
if cursor == '' then
  local ms, plen = ofSender(A, s)
  for _, m in ipairs(ms) do
    local key = string.sub(m, plen + 1)
    if redis.call('ZSCORE', I, key) and redis.call('HEXISTS', prefix .. key, 'a' .. s) == 1 then
      out[#out + 1] = key
    end
  end
  out[1] = #out - 1
end
local lo = '-'
if cursor ~= '' then lo = '(' .. cursor end
local batch = redis.call('ZRANGEBYLEX', I, lo, '+', 'LIMIT', 0, limit)
local at = #out + 1
out[at] = 0
local n, ls = 0, #s
for _, k in ipairs(batch) do
  local lk = #k
  local hit = k == s
    or (lk > ls and string.sub(k, 1, ls + 1) == s .. ':')
    or (lk > ls and string.sub(k, lk - ls) == ':' .. s)
    or string.find(k, ':' .. s .. ':', 1, true) ~= nil
  if hit then
    n = n + 1
    out[#out + 1] = k
  end
end
out[at] = n
if #batch < limit then out[#out + 1] = '' else out[#out + 1] = batch[#batch] end
return out
`,
);

/**
 * KEYS: attributions. ARGV: sender, entry prefix. Drops every attribution
 * to the sender in the namespace (the set's members and the entries'
 * marks). Returns how many.
 */
const DROP = luaScript(
  "forget-drop",
  `#!lua
${SENDER_RANGE}
local ms, plen = ofSender(KEYS[1], ARGV[1])
for _, m in ipairs(ms) do
  redis.call('HDEL', ARGV[2] .. string.sub(m, plen + 1), 'a' .. ARGV[1])
  redis.call('ZREM', KEYS[1], m)
end
return #ms
`,
);

/** Read stamps one prune step checks per namespace. */
const STAMPS_PER_STEP = 64;

/**
 * KEYS: meta, attributions, sizes, read stamps. ARGV: entry prefix, after
 * (a member, "" = start), limit. Looks at up to `limit` attributions after
 * `after` and drops those whose entry no longer carries the mark (gone, or
 * created again since). Also checks the next few read stamps (ZSCAN, its
 * cursor in the meta hash as `ucur`) and drops those of entries that are
 * gone. Returns {looked at, last sender, last key}.
 */
const PRUNE = luaScript(
  "attributions-prune",
  `#!lua
${SENDER_RANGE}
local M, A, S, U = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local lo = '-'
if ARGV[2] ~= '' then lo = '(' .. ARGV[2] end
local ms = redis.call('ZRANGEBYLEX', A, lo, '+', 'LIMIT', 0, tonumber(ARGV[3]))
local ls, lk = '', ''
for _, m in ipairs(ms) do
  local s, key = split(m)
  ls, lk = s, key
  if redis.call('HEXISTS', ARGV[1] .. key, 'a' .. s) == 0 then
    redis.call('ZREM', A, m)
  end
end
local cur = redis.call('HGET', M, 'ucur') or '0'
local scan = redis.call('ZSCAN', U, cur, 'COUNT', ${STAMPS_PER_STEP})
for i = 1, #scan[2], 2 do
  local k = scan[2][i]
  if redis.call('HEXISTS', S, k) == 0 then redis.call('ZREM', U, k) end
end
if scan[1] ~= cur then redis.call('HSET', M, 'ucur', scan[1]) end
return {#ms, ls, lk}
`,
);

/** Mark `key`'s stored entry as written for `sender` (see `Backend.attribute`). */
export async function attribute(
  link: RedisLink,
  k: NamespaceKeys,
  key: string,
  sender: string,
): Promise<void> {
  await link.run(ATTRIBUTE, [k.entry(key), attributionKey(k)], [key, sender]);
}

/** Index keys one find step reads. */
const FIND_STEP = 1_000;

/**
 * A sender's entries in one namespace (see `Backend.forgetCandidates`), in
 * bounded steps of {@link FIND_STEP} index keys each; `"sender"` wins when
 * both rules match.
 */
export async function forgetCandidatesIn(
  link: RedisLink,
  k: NamespaceKeys,
  space: Space,
  ns: string,
  sender: string,
): Promise<ForgetCandidate[]> {
  const bySender = new Set<string>();
  const bySegment: string[] = [];
  let cursor = "";
  do {
    const out = await link.run<(string | number)[]>(
      FIND,
      [k.index, attributionKey(k)],
      [sender, k.entryPrefix, cursor, String(FIND_STEP)],
    );
    let i = 0;
    const n = Number(out[i++]);
    for (let j = 0; j < n; j++) bySender.add(String(out[i++]));
    const m = Number(out[i++]);
    for (let j = 0; j < m; j++) bySegment.push(String(out[i++]));
    cursor = String(out[i]);
  } while (cursor !== "");
  const found: ForgetCandidate[] = [...bySender].map((key) => ({
    space,
    ns,
    key,
    rule: "sender" as const,
  }));
  for (const key of bySegment) {
    if (!bySender.has(key)) {
      found.push({ space, ns, key, rule: "key-segment" });
    }
  }
  return found;
}

/** Drop every attribution to `sender` in one namespace (one script). */
export async function dropAttributionsIn(
  link: RedisLink,
  k: NamespaceKeys,
  sender: string,
): Promise<void> {
  await link.run(DROP, [attributionKey(k)], [sender, k.entryPrefix]);
}

/**
 * One bounded prune step in one namespace (see `Backend.pruneAttributions`),
 * after the member of `after` (or from the start). Returns how many were
 * looked at and the last one.
 */
export async function pruneAttributionsIn(
  link: RedisLink,
  k: NamespaceKeys,
  after: { sender: string; key: string } | null,
  limit: number,
): Promise<{ looked: number; last: { sender: string; key: string } }> {
  const [looked, sender, key] = await link.run<[number, string, string]>(
    PRUNE,
    [k.meta, attributionKey(k), k.sizes, usedKey(k)],
    [
      k.entryPrefix,
      after === null ? "" : attributionMember(after.sender, after.key),
      String(limit),
    ],
  );
  return { looked: Number(looked), last: { sender, key } };
}
