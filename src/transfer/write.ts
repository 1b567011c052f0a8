/**
 * Writing imported entries, shared by `import` and `import-sup`: in
 * batches, one `atomic()` commit (one transaction) per batch of one
 * namespace, keeping each exact expiry, leaving existing keys alone unless
 * asked, and turning the library's refusal of one entry (a limit, a quota)
 * into a skip with its reason so one entry does not stop a migration.
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import {
  InvalidInputError,
  LimitExceededError,
  QuotaExceededError,
} from "../errors.ts";
import type { Keyspace } from "../cache/types.ts";

/** An entry to write. */
export interface Entry {
  /** `"cache"` or `"store"` keyspace. */
  kind: Keyspace;
  /** The namespace. */
  namespace: string;
  /** The key. */
  key: string;
  /** The value bytes. */
  value: Uint8Array;
  /** Absolute expiry in ms since the epoch, or `null` for never. */
  expiresAt: number | null;
}

/** How to write. */
export interface WriteOptions {
  /** Replace a live entry with the same key; by default it is kept and the import skipped. */
  overwrite?: boolean;
  /**
   * Most entries per transaction. Default 10,000: fewer commits are faster,
   * and with at most {@link WriteOptions.batchBytes} of values a batch
   * holds the write lock for tens of milliseconds, not seconds.
   */
  batchSize?: number;
  /** Most value bytes per transaction, so large values never pile up in memory. Default 16 MiB. */
  batchBytes?: number;
}

/** The reason {@link EntryWriter} gives for a key that is already there. */
export const EXISTS = "exists (pass --overwrite to replace it)";

const DEFAULT_BATCH = 10_000;
const DEFAULT_BATCH_BYTES = 16 * 1_048_576;

/** A namespace of a cache, whichever class implements it. */
type Namespace = ReturnType<SupCache["namespace"]>;

/** A library refusal of one entry, as opposed to a broken database. */
function isRefusal(err: unknown): err is Error {
  return err instanceof InvalidInputError ||
    err instanceof LimitExceededError || err instanceof QuotaExceededError;
}

/**
 * Collects entries and writes them in batches. `onSkip` hears each entry
 * left out and why; `onWritten` each entry written. Call `flush()` at the
 * end. A batch with a key already present (and no `overwrite`) is retried
 * without it; a batch the library refuses is written entry by entry so the
 * one bad entry is skipped and the rest land.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * import { EntryWriter } from "./write.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * let written = 0;
 * const writer = new EntryWriter<number>(cache, {}, () => {}, () => written++);
 * const value = new TextEncoder().encode("1");
 * await writer.add({ kind: "cache", namespace: "n", key: "a", value, expiresAt: null }, 1);
 * await writer.add({ kind: "cache", namespace: "n", key: "b", value, expiresAt: null }, 2);
 * // (add returns a Promise only when it wrote; awaiting undefined is harmless)
 * await writer.flush();
 * console.log(written); // 2
 * ```
 */
export class EntryWriter<Tag> {
  readonly #cache: SupCache;
  readonly #overwrite: boolean;
  readonly #size: number;
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #onSkip: (entry: Entry, reason: string, tag: Tag) => void;
  readonly #onWritten: (entry: Entry, tag: Tag) => void;
  #batch: [Entry, Tag][] = [];
  #kind: Entry["kind"] | null = null;
  #namespace = "";
  #keys = new Set<string>();

  /** See the class comment. */
  constructor(
    cache: SupCache,
    options: WriteOptions,
    onSkip: (entry: Entry, reason: string, tag: Tag) => void,
    onWritten: (entry: Entry, tag: Tag) => void,
  ) {
    this.#cache = cache;
    this.#overwrite = options.overwrite ?? false;
    this.#size = options.batchSize ?? DEFAULT_BATCH;
    this.#maxBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.#onSkip = onSkip;
    this.#onWritten = onWritten;
  }

  /**
   * Queue `entry`. When the batch is full or the namespace changes, the
   * queued batch is written first and the Promise of that write returned;
   * otherwise nothing is returned, so a caller awaits only real writes.
   */
  add(entry: Entry, tag: Tag): Promise<void> | undefined {
    // A key twice in one batch would pass both "absent" checks; the second
    // goes into the next batch, where it meets the first as it would one by one.
    if (
      entry.kind !== this.#kind || entry.namespace !== this.#namespace ||
      this.#batch.length >= this.#size ||
      this.#bytes + entry.value.length > this.#maxBytes ||
      this.#keys.has(entry.key)
    ) {
      return this.flush().then(() => this.#queue(entry, tag));
    }
    this.#queue(entry, tag);
  }

  #queue(entry: Entry, tag: Tag): void {
    this.#kind = entry.kind;
    this.#namespace = entry.namespace;
    this.#batch.push([entry, tag]);
    this.#keys.add(entry.key);
    this.#bytes += entry.value.length;
  }

  /** Write what is queued. */
  async flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#keys = new Set();
    this.#bytes = 0;
    if (batch.length === 0) return;
    const now = Date.now();
    const live: [Entry, Tag][] = [];
    for (const item of batch) {
      const at = item[0].expiresAt;
      if (at !== null && at <= now) {
        this.#onSkip(
          item[0],
          `expired at ${new Date(at).toISOString()}`,
          item[1],
        );
      } else live.push(item);
    }
    const { kind, namespace } = batch[0][0];
    let ns;
    try {
      ns = kind === "store"
        ? this.#cache.store(namespace)
        : this.#cache.namespace(namespace);
    } catch (err) {
      // A namespace name this cache refuses (too long, say) skips its entries.
      if (!isRefusal(err)) throw err;
      for (const [e, tag] of live) this.#onSkip(e, err.message, tag);
      return;
    }
    await this.#commit(ns, live);
  }

  /**
   * Commit `items` as one transaction. Without `overwrite`, a key with a
   * live entry (already there, or written by a plugin meanwhile) is left
   * alone and reported as skipped by that same transaction. An entry the
   * library refuses (a limit, a quota) splits the batch in halves until it is alone, so one bad entry
   * costs a few commits, not one per entry of the batch.
   */
  async #commit(
    ns: Namespace,
    items: [Entry, Tag][],
  ): Promise<void> {
    if (items.length === 0) return;
    if (items.length === 1) return await this.#oneByOne(items);
    const rows = items.map(([e]) =>
      [e.key, e.value, { expiresAt: e.expiresAt }] as const
    );
    // Only-if-absent in the same statement as each insert (INSERT OR
    // IGNORE), so a plugin writing a key meanwhile is never overwritten and
    // a key already there costs no separate lookup.
    let kept: string[] = [];
    try {
      if (this.#overwrite) await ns.setMany(rows);
      else kept = await ns.setManyIfAbsent(rows);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      const half = items.length >> 1;
      await this.#commit(ns, items.slice(0, half));
      await this.#commit(ns, items.slice(half));
      return;
    }
    const present = new Set(kept);
    for (const [e, tag] of items) {
      if (present.has(e.key)) this.#onSkip(e, EXISTS, tag);
      else this.#onWritten(e, tag);
    }
  }

  async #oneByOne(items: [Entry, Tag][]): Promise<void> {
    for (const [entry, tag] of items) {
      const reason = await putEntry(this.#cache, entry, this.#overwrite);
      if (reason === null) this.#onWritten(entry, tag);
      else this.#onSkip(entry, reason, tag);
    }
  }
}

/**
 * Write one entry, resolving to `null` when written or to the reason it was
 * skipped: already expired, already present, or refused by a limit or
 * quota. Any other failure (a broken database) throws.
 */
async function putEntry(
  cache: SupCache,
  entry: Entry,
  overwrite: boolean,
): Promise<string | null> {
  if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
    return `expired at ${new Date(entry.expiresAt).toISOString()}`;
  }
  try {
    const ns = entry.kind === "store"
      ? cache.store(entry.namespace)
      : cache.namespace(entry.namespace);
    const write = { expiresAt: entry.expiresAt };
    if (overwrite) {
      await ns.set(entry.key, entry.value, write);
      return null;
    }
    // check(key, null) makes "only if absent" one transaction, so a plugin
    // writing the same key meanwhile is never overwritten.
    const { ok } = await ns.atomic().check(entry.key, null)
      .set(entry.key, entry.value, write).commit();
    return ok ? null : EXISTS;
  } catch (err) {
    if (isRefusal(err)) return err.message;
    throw err;
  }
}
