/**
 * The asynchronous storage interface, for backends that live across a
 * network (Redis, Redis Cluster). It mirrors {@link Backend} operation for
 * operation with the same request shapes ({@link KeyRange}, {@link Quota},
 * {@link Space}), so one cache layer can drive either.
 *
 * What it cannot mirror is `Backend.transaction(fn)`: a network store has no
 * interactive transaction that holds a lock while JavaScript runs. The two
 * read-modify-write operations the cache builds on it, `increment` and an
 * atomic commit, are therefore single requests here, and the backend makes
 * each one atomic on the server (a Lua script on Redis).
 *
 * @module
 */
import type {
  KeyedEntry,
  KeyRange,
  NamespaceUsage,
  Quota,
  Space,
  StoredEntry,
} from "./backend.ts";

export type { KeyedEntry, KeyRange, NamespaceUsage, Quota, Space, StoredEntry };

/**
 * One `increment`: add `by` to the decimal integer stored under `key`
 * (missing or expired counts as 0). An existing live entry keeps its expiry;
 * a new one gets `expiresAt`.
 *
 * @example
 * ```ts
 * import type { IncrementRequest } from "./async_backend.ts";
 * const req: IncrementRequest = {
 *   space: 0, ns: "counter", key: "visits", by: 1, keySize: 6,
 *   expiresAt: null, now: Date.now(), quota: null,
 * };
 * console.log(req.by); // 1
 * ```
 */
export interface IncrementRequest {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** The counter's key. */
  key: string;
  /** A safe integer to add. */
  by: number;
  /** UTF-8 bytes of `key`, measured once by the caller. */
  keySize: number;
  /** Expiry of a counter that does not exist yet (ms since the epoch), or `null`. */
  expiresAt: number | null;
  /** The time that decides what is expired, ms since the epoch. */
  now: number;
  /** The namespace quota, or `null` for none. */
  quota: Quota | null;
}

/**
 * How an increment ended. Nothing was written unless `kind` is `"ok"`.
 *
 * @example
 * ```ts
 * import type { IncrementResult } from "./async_backend.ts";
 * const res = { kind: "ok", value: 2 } as IncrementResult;
 * if (res.kind === "ok") console.log(res.value); // 2
 * ```
 */
export type IncrementResult =
  | { kind: "ok"; value: number }
  /** The stored value is not a safe decimal integer; `text` is its start. */
  | { kind: "not-integer"; text: string }
  /** The sum is past `Number.MAX_SAFE_INTEGER` in either direction. */
  | { kind: "overflow" }
  | { kind: "quota" };

/**
 * One write of an atomic commit. `size` is key bytes + value bytes.
 *
 * @example
 * ```ts
 * import type { CommitMutation } from "./async_backend.ts";
 * const m: CommitMutation = {
 *   type: "set", key: "a", value: new Uint8Array([1]), expiresAt: null, size: 2,
 * };
 * console.log(m.type); // "set"
 * ```
 */
export type CommitMutation =
  | {
    type: "set";
    key: string;
    value: Uint8Array;
    expiresAt: number | null;
    size: number;
  }
  | { type: "delete"; key: string };

/**
 * Checks and writes on one namespace, applied all or nothing.
 *
 * @example
 * ```ts
 * import type { CommitRequest } from "./async_backend.ts";
 * const req: CommitRequest = {
 *   space: 0, ns: "bank", now: Date.now(), quota: null,
 *   checks: [{ key: "alice", version: null }],
 *   mutations: [{ type: "delete", key: "bob" }],
 * };
 * console.log(req.checks.length); // 1
 * ```
 */
export interface CommitRequest {
  /** 0 = cache, 1 = store. */
  space: Space;
  /** The namespace. */
  ns: string;
  /** Each key must be live at `version`, or absent when `version` is `null`. */
  checks: { key: string; version: number | null }[];
  /** Applied in order when every check holds. */
  mutations: CommitMutation[];
  /** The time that decides what is expired, and the write time. */
  now: number;
  /** The namespace quota, checked after each write in order, or `null`. */
  quota: Quota | null;
}

/**
 * How a commit ended: `"ok"` (everything written), `"check"` (a check
 * failed, nothing written) or `"quota"` (a write would pass the quota,
 * nothing written).
 *
 * @example
 * ```ts
 * import type { CommitOutcome } from "./async_backend.ts";
 * const describe = (o: CommitOutcome) => o === "ok" ? "written" : `nothing written (${o})`;
 * console.log(describe("check")); // "nothing written (check)"
 * ```
 */
export type CommitOutcome = "ok" | "check" | "quota";

/**
 * The operations a networked backend offers; every one resolves once the
 * server has answered. Errors are `StorageError`s (or subclasses naming the
 * failure, such as a server that is down).
 *
 * @example
 * ```ts
 * import type { AsyncBackend } from "./async_backend.ts";
 * async function count(b: AsyncBackend, ns: string): Promise<number> {
 *   return (await b.usage(0, ns)).keys;
 * }
 * console.log(typeof count); // "function"
 * ```
 */
export interface AsyncBackend {
  /** Where the data lives, without credentials (e.g. `redis://127.0.0.1:6379/0`). */
  readonly path: string;
  /** The live entry (expiresAt > now or null), or `undefined`. */
  get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<StoredEntry | undefined>;
  /**
   * Insert or replace; `size` is key bytes + value bytes, `now` the write
   * time. Resolves `false` (and writes nothing) when `quota` would be exceeded.
   */
  set(
    space: Space,
    ns: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    size: number,
    now: number,
    quota: Quota | null,
  ): Promise<boolean>;
  /** Delete the entry; resolves whether a live entry was deleted. */
  delete(space: Space, ns: string, key: string, now: number): Promise<boolean>;
  /** Live keys of `range`, in byte order. */
  list(range: KeyRange): Promise<string[]>;
  /** Like {@link AsyncBackend.list}, with each entry's value, version and times. */
  scan(range: KeyRange): Promise<KeyedEntry[]>;
  /** Delete every entry of a namespace; resolves to the count. */
  clear(space: Space, ns: string): Promise<number>;
  /** Usage of one namespace (zeros when it never existed). */
  usage(space: Space, ns: string): Promise<NamespaceUsage>;
  /** Usage of every namespace that ever held an entry, ordered by name, then space. */
  namespaces(): Promise<NamespaceUsage[]>;
  /** Add to the persisted hit and miss counters. */
  addCounters(
    space: Space,
    ns: string,
    hits: number,
    misses: number,
  ): Promise<void>;
  /** Delete up to `limit` expired entries (any namespace); resolves to the count. */
  purgeExpired(now: number, limit: number): Promise<number>;
  /** Delete every expired entry of one namespace; resolves to the count. */
  purgeExpiredIn(space: Space, ns: string, now: number): Promise<number>;
  /** Atomically add to a decimal counter; see {@link IncrementRequest}. */
  increment(req: IncrementRequest): Promise<IncrementResult>;
  /** Atomically check versions and write; see {@link CommitRequest}. */
  commit(req: CommitRequest): Promise<CommitOutcome>;
  /** Close the connections; later calls reject. Closing twice is harmless. */
  close(): Promise<void>;
}
