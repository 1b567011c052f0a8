/**
 * sup-cache: host Extism WebAssembly plugins in Deno and give each one a
 * persistent, SQLite-backed key-value cache with expiry.
 *
 * @example
 * ```ts
 * import { createSupCache } from "./mod.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("counter");
 * await ns.set("greeting", "Hello", { ttl: 60_000 });
 * console.log(new TextDecoder().decode((await ns.get("greeting"))!)); // "Hello"
 * ```
 *
 * @module
 */
export {
  createSupCache,
  type NamespaceInfo,
  SupCache,
} from "./src/cache/cache.ts";
export { Namespace } from "./src/cache/async_namespace.ts";
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
  Backend,
  BatchWrite,
  KeyedEntry,
  KeyRange,
  NamespaceUsage,
  PurgeStep,
  Quota,
  Space,
  StoredEntry,
  SweepCursor,
} from "./src/storage/backend.ts";
export { QuotaRefusal } from "./src/storage/backend.ts";
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
