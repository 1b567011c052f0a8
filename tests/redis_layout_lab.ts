/**
 * Server time of candidate entry layouts for a `set`, side by side on one
 * server (`INFO commandstats`, medians of 7 runs of 3,000 overwrites of
 * random keys of a 10,000-key namespace): this version's SET script, the
 * bench's raw equivalent, and hand-written lean candidates (hash entry with
 * the sizes hash, hash entry with sizes merged into the meta hash, string
 * entry `SET e <header><value> PXAT` with sizes merged, string entry with
 * the sizes hash). Not a test: it prints figures for docs/scale-out.md
 * ("Tried and dropped"). Starts its own `redis-server` on a loopback port
 * (`$SUP_REDIS_SERVER` picks another binary):
 *
 * ```sh
 * deno run -A tests/redis_layout_lab.ts
 * ```
 */
// deno-lint-ignore no-import-prefix
import * as redis from "npm:@redis/client@6.3.1";
import { SET } from "../src/storage/redis/scripts.ts";
import { RAW_SET } from "./support/redis_equivalents.ts";
import { RedisServer } from "./support/redis_server.ts";

// Only when run as a program: `deno test tests/redis_*.ts` loads this
// file too, and must not time anything.
if (import.meta.main) {
  const server = await RedisServer.start();
  try {
    const c = redis.createClient({ url: server.url, RESP: 3 });
    await c.connect();
    const N = 10000;
    const val = "x".repeat(100);
    const H = "{0n}";
    const keysOf = [`${H}m`, `${H}i`, `${H}s`, `${H}x`, `${H}w`];
    // The lean candidates, each a choice of two: the entry as a hash
    // (KEYS[6]) or as one string (KEYS[7]); the sizes in the sizes hash or
    // in the meta hash (with the expiry score, `:key` -> "size,xat").
    const head = (entry: number) =>
      `#!lua
    local M, I, S, X, W = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
    local e, key, size, xat, now = KEYS[${entry}], ARGV[1], tonumber(ARGV[4]), ARGV[3], ARGV[5]
    local maxB, maxK = tonumber(ARGV[6]), tonumber(ARGV[7])
    `;
    const sizesInS = {
      read: `local old = redis.call('HGET', S, key)
    local u = redis.call('HMGET', M, 'keys', 'bytes', 'seq')
    local keys, bytes, seq = tonumber(u[1] or 0), tonumber(u[2] or 0), tonumber(u[3] or 0) + 1
    local oldSize = old and tonumber(old) or 0
    `,
      write: `redis.call('ZADD', X, 'LT', xat, key)
    if oldSize ~= size then redis.call('HSET', S, key, size) bytes = bytes - oldSize + size end
    redis.call('HSET', M, 'seq', seq)
    `,
    };
    const sizesInM = {
      read:
        `local u = redis.call('HMGET', M, 'keys', 'bytes', 'seq', ':' .. key)
    local keys, bytes, seq = tonumber(u[1] or 0), tonumber(u[2] or 0), tonumber(u[3] or 0) + 1
    local old = u[4]
    local oldSize, oldX = 0, nil
    if old then local a, b = string.match(old, '^(%d+),(%d*)') oldSize = tonumber(a) oldX = tonumber(b) end
    `,
      write:
        `if not oldX or tonumber(xat) < oldX then redis.call('ZADD', X, 'LT', xat, key) end
    bytes = bytes - oldSize + size
    redis.call('HSET', M, 'seq', seq, ':' .. key, size .. ',' .. xat)
    `,
    };
    const hashEntry =
      `redis.call('HSET', e, 'v', ARGV[2], 'n', seq, 'w', now, 'x', xat)
    redis.call('PEXPIREAT', e, xat)
    `;
    const stringEntry =
      `redis.call('SET', e, seq .. ',' .. now .. ',' .. xat .. ';' .. ARGV[2], 'PXAT', xat)
    `;
    const candidate = (
      entry: number,
      entryWrite: string,
      sizes: typeof sizesInS,
    ) =>
      head(entry) + sizes.read +
      `if maxB and (bytes - oldSize + size > maxB or keys + (old and 0 or 1) > maxK) then return {0, keys, bytes, 0, -1} end
    ` + entryWrite + sizes.write + "return {1, keys, bytes, 0, -1}";
    const variants: Record<string, string> = {
      current: SET.source,
      equivalent: RAW_SET,
      L1hashS: candidate(6, hashEntry, sizesInS),
      L2hashM: candidate(6, hashEntry, sizesInM),
      L3strM: candidate(7, stringEntry, sizesInM),
      L4strS: candidate(7, stringEntry, sizesInS),
    };
    const res: Record<string, number[]> = {};
    const shas: Record<string, string> = {};
    for (const [n, s] of Object.entries(variants)) {
      shas[n] = await c.scriptLoad(s);
    }
    const pxat = () => String(Date.now() + 60000);
    // KEYS: 5 fixed, a hash entry, a string entry. ARGV as SET's.
    const call = (sha: string, i: number) =>
      c.sendCommand([
        "EVALSHA",
        sha,
        "7",
        ...keysOf,
        `${H}ek${i}`,
        `${H}tk${i}`,
        `k${i}`,
        val,
        pxat(),
        "103",
        String(Date.now()),
        "100000000",
        "100000",
      ]);
    // The equivalent (tests/support/redis_equivalents.ts) on the string
    // entry's key, the index and a usage hash of its own.
    const callEquivalent = (i: number) =>
      c.sendCommand([
        "EVALSHA",
        shas.equivalent,
        "3",
        `${H}tk${i}`,
        `${H}i`,
        `${H}a`,
        val,
        pxat(),
        `k${i}`,
        "100000000",
      ]);
    for (let i = 0; i < N; i++) {
      await call(shas.current, i);
      await call(shas.L3strM, i);
      await c.sendCommand([
        "HSET",
        `${H}m`,
        `:k${i}`,
        `103,${Date.now() + 60000}`,
      ]);
    }
    await c.sendCommand([
      "HSET",
      `${H}m`,
      "keys",
      String(N),
      "bytes",
      String(N * 103),
    ]);
    for (let rep = 0; rep < 7; rep++) {
      for (const [name, sha] of Object.entries(shas)) {
        await c.sendCommand(["CONFIG", "RESETSTAT"]);
        for (let j = 0; j < 3000; j++) {
          const k = Math.floor(Math.random() * N);
          await (name === "equivalent" ? callEquivalent(k) : call(sha, k));
        }
        const info = await c.sendCommand(["INFO", "commandstats"]) as string;
        const per = info.match(/cmdstat_evalsha:.*usec_per_call=([\d.]+)/)![1];
        (res[name] ??= []).push(Number(per));
      }
    }
    for (const [k, v] of Object.entries(res)) {
      const sorted = [...v].sort((a, b) => a - b);
      console.log(
        `${k}: median ${sorted[3]} µs of server time per call (${v.join(" ")})`,
      );
    }
    await c.quit();
  } finally {
    await server.stop();
    await Deno.remove(server.dir, { recursive: true });
  }
}
