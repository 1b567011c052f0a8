/**
 * sup-cache: host Extism WebAssembly plugins in Deno and give each one a
 * persistent, SQLite-backed key-value cache with expiry, reachable from
 * inside the plugin through host functions (sup's own, byte for byte, and a
 * binary-safe set with per-item TTL, listing and atomic increments).
 *
 * The cache on its own, like Deno KV with namespaces and quotas:
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("counter");
 * await ns.set("greeting", "Hello", { ttl: 60_000 });
 * console.log(new TextDecoder().decode((await ns.get("greeting"))!)); // "Hello"
 * ```
 *
 * A plugin with its namespace of that cache (the namespace is the plugin's
 * name; a path, URL, bytes or Extism manifest all work as the source):
 *
 * @example
 * ```ts
 * import { createSupCache, loadPlugin } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * // The smallest valid module; a real one comes from `deno task build:plugins`.
 * const wasm = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
 * await using plugin = await loadPlugin(wasm, { cache, name: "empty" });
 * // sup's fallbacks answer for the exports it lacks:
 * console.log(await plugin.version(), await plugin.topics()); // "unknown" [ "empty" ]
 * ```
 *
 * Permissions: `--allow-read` and `--allow-write` on the data directory; a
 * plugin host also needs read on the plugin file and `/dev/null`, write on
 * `/dev/null`, and `--allow-env=EXTISM_ENABLE_WASI_OUTPUT,__MINIMATCH_TESTING_PLATFORM__`.
 * The README and `docs/` in the repository have the details.
 *
 * @module
 */
export {
  createSupCache,
  type NamespaceInfo,
  SupCache,
} from "./src/cache/cache.ts";
export { Namespace } from "./src/cache/async_namespace.ts";
export { type Paged, PagedList } from "./src/cache/list.ts";
export type { Clock } from "./src/cache/clock.ts";
export type { ForgetReport, ForgottenKey } from "./src/cache/forget.ts";
export { AtomicOperation } from "./src/cache/atomic.ts";
export type {
  Limits,
  ResolvedLimits,
  SupCacheOptions,
} from "./src/cache/options.ts";
export type {
  CacheEntry,
  CacheValue,
  CommitResult,
  KeyedCacheEntry,
  ListOptions,
  ListPage,
  NamespaceStats,
  ScanPage,
  SetOptions,
  SyncNamespace,
} from "./src/cache/types.ts";
export type {
  AsyncBackend,
  AttributionCursor,
  Backend,
  BatchWrite,
  CommitOutcome,
  EvictionResult,
  ForgetCandidate,
  IncrementResult,
  KeyedEntry,
  KeyRange,
  Keyspace,
  KnownUsage,
  NamespaceUsage,
  Promised,
  Promisified,
  PurgeStep,
  Quota,
  Space,
  StoredEntry,
  SweepCursor,
  UsageCounters,
  UsedValue,
  VersionCheck,
  WriteExtras,
} from "./src/storage/backend.ts";
export { QuotaRefusal, SPACE_NAMES } from "./src/storage/backend.ts";
export type { RedisOptions } from "./src/storage/redis/options.ts";
export {
  RedisReplyError,
  RedisUnavailableError,
} from "./src/storage/redis/errors.ts";
export {
  ClosedError,
  DriverUnavailableError,
  InvalidInputError,
  LimitExceededError,
  NotAnIntegerError,
  QuotaExceededError,
  SchemaVersionError,
  StorageError,
  SupCacheError,
} from "./src/errors.ts";
export * from "./src/host/mod.ts";
