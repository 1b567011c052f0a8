/**
 * The asynchronous storage interface, kept as an import path for existing
 * backends: {@link AsyncBackend} and every type it uses are defined once,
 * in `backend.ts`, next to the synchronous {@link Backend} they are derived
 * from.
 *
 * @example
 * ```ts
 * import type { AsyncBackend, BatchWrite } from "./async_backend.ts";
 * const w: BatchWrite = { key: "a", value: new Uint8Array([1]), expiresAt: null, size: 2 };
 * const count = async (b: AsyncBackend) => (await b.usage(0, "n")).keys;
 * console.log(w.size, typeof count); // 2 "function"
 * ```
 *
 * @module
 */
export type {
  AsyncBackend,
  Backend,
  BatchWrite,
  CommitOutcome,
  IncrementResult,
  KeyedEntry,
  KeyRange,
  KnownUsage,
  NamespaceUsage,
  PurgeStep,
  Quota,
  Space,
  StoredEntry,
  SweepCursor,
  VersionCheck,
} from "./backend.ts";
