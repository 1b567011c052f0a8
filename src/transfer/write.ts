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
  // The queued batch as two parallel arrays (no pair per entry).
  #entries: Entry[] = [];
  #tags: Tag[] = [];
  #kind: Entry["kind"] | null = null;
  #namespace = "";

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
    if (this.#full(entry)) {
      return this.flush().then(() => this.#queue(entry, tag));
    }
    this.#queue(entry, tag);
  }

  /**
   * Queue `entries[i]` with `tags[i]`, each in turn, writing batches as
   * they fill (as {@link EntryWriter.add} one by one, without a Promise
   * per entry).
   */
  async addAll(entries: readonly Entry[], tags: readonly Tag[]): Promise<void> {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (this.#full(entry)) await this.flush();
      this.#queue(entry, tags[i]);
    }
  }

  /**
   * Whether `entry` must wait for the queued batch to be written. A key
   * twice in one batch needs no batch of its own: `setManyIfAbsent` writes
   * the first and leaves the later ones alone (as one by one), and
   * `setMany` writes them in order (the last wins, as one by one).
   */
  #full(entry: Entry): boolean {
    return entry.kind !== this.#kind || entry.namespace !== this.#namespace ||
      this.#entries.length >= this.#size ||
      this.#bytes + entry.value.length > this.#maxBytes;
  }

  #queue(entry: Entry, tag: Tag): void {
    this.#kind = entry.kind;
    this.#namespace = entry.namespace;
    this.#entries.push(entry);
    this.#tags.push(tag);
    this.#bytes += entry.value.length;
  }

  /** Write what is queued. */
  async flush(): Promise<void> {
    const entries = this.#entries;
    const tags = this.#tags;
    this.#entries = [];
    this.#tags = [];
    this.#bytes = 0;
    if (entries.length === 0) return;
    const { kind, namespace } = entries[0];
    const now = Date.now();
    const live: Entry[] = [];
    const liveTags: Tag[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const at = e.expiresAt;
      if (at !== null && at <= now) {
        this.#onSkip(e, `expired at ${new Date(at).toISOString()}`, tags[i]);
      } else {
        live.push(e);
        liveTags.push(tags[i]);
      }
    }
    let ns;
    try {
      ns = kind === "store"
        ? this.#cache.store(namespace)
        : this.#cache.namespace(namespace);
    } catch (err) {
      // A namespace name this cache refuses (too long, say) skips its entries.
      if (!isRefusal(err)) throw err;
      for (let i = 0; i < live.length; i++) {
        this.#onSkip(live[i], err.message, liveTags[i]);
      }
      return;
    }
    await this.#commit(ns, live, liveTags);
  }

  /**
   * Commit `entries` as one transaction. Without `overwrite`, a key with a
   * live entry (already there, or written by a plugin meanwhile) is left
   * alone and reported as skipped by that same transaction. An entry the
   * library refuses (a limit, a quota) splits the batch in halves until it
   * is alone, so one bad entry costs a few commits, not one per entry of
   * the batch.
   */
  async #commit(
    ns: Namespace,
    entries: Entry[],
    tags: Tag[],
  ): Promise<void> {
    if (entries.length === 0) return;
    if (entries.length === 1) return await this.#oneByOne(entries, tags);
    // One options object for a run of entries with the same expiry (an
    // export of keys written together), not one per entry.
    const rows = new Array<[string, Uint8Array, { expiresAt: number | null }]>(
      entries.length,
    );
    let options = { expiresAt: entries[0].expiresAt };
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.expiresAt !== options.expiresAt) {
        options = { expiresAt: e.expiresAt };
      }
      rows[i] = [e.key, e.value, options];
    }
    // Only-if-absent in the same statement as each insert (INSERT OR
    // IGNORE), so a plugin writing a key meanwhile is never overwritten and
    // a key already there costs no separate lookup.
    let kept: string[] = [];
    try {
      if (this.#overwrite) await ns.setMany(rows);
      else kept = await ns.setManyIfAbsent(rows);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      const half = entries.length >> 1;
      await this.#commit(ns, entries.slice(0, half), tags.slice(0, half));
      await this.#commit(ns, entries.slice(half), tags.slice(half));
      return;
    }
    if (kept.length === 0) {
      for (let i = 0; i < entries.length; i++) {
        this.#onWritten(entries[i], tags[i]);
      }
      return;
    }
    // `kept` names a key once per entry left alone, and of a key given
    // twice the later entries are the ones left alone: match from the end.
    const left = new Map<string, number>();
    for (const key of kept) left.set(key, (left.get(key) ?? 0) + 1);
    const skipped = new Array<boolean>(entries.length);
    for (let i = entries.length - 1; i >= 0; i--) {
      const n = left.get(entries[i].key);
      skipped[i] = n !== undefined && n > 0;
      if (skipped[i]) left.set(entries[i].key, n! - 1);
    }
    for (let i = 0; i < entries.length; i++) {
      if (skipped[i]) this.#onSkip(entries[i], EXISTS, tags[i]);
      else this.#onWritten(entries[i], tags[i]);
    }
  }

  async #oneByOne(entries: Entry[], tags: Tag[]): Promise<void> {
    for (let i = 0; i < entries.length; i++) {
      const reason = await putEntry(this.#cache, entries[i], this.#overwrite);
      if (reason === null) this.#onWritten(entries[i], tags[i]);
      else this.#onSkip(entries[i], reason, tags[i]);
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
