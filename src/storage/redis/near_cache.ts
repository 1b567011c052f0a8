/**
 * The near cache: entries read from Redis kept in this process, so a hot
 * read costs a map lookup instead of a round trip, and kept coherent with
 * Redis's client-side caching (RESP3 `CLIENT TRACKING`): the server
 * remembers which keys this connection read and pushes an invalidation
 * when anyone changes one.
 *
 * Hand-written because node-redis's own client-side cache
 * (`clientSideCache`) costs ~6 µs a hit here (it deep-copies every value
 * with `structuredClone` and builds a cache key from the arguments), four
 * times a node:sqlite read; this one costs a `Map` lookup and a copy of the
 * value.
 *
 * Coherence: a read marks its key pending before it is sent; an
 * invalidation removes the mark, so a reply that raced with a change is
 * not kept. A reconnect clears everything (invalidations may have been
 * lost while disconnected). Writes by this process drop their keys first,
 * so this process reads its own writes at once; other processes' writes
 * are seen once their invalidation arrives (measured in docs/scale-out.md).
 *
 * @module
 */
import type { StoredEntry } from "../backend.ts";

/** A read in flight: its reply is kept only if this mark is still there. */
class Pending {}

/**
 * An LRU map of entry keys to what Redis answered (`null` = absent).
 *
 * @example
 * ```ts
 * import { NearCache } from "./near_cache.ts";
 * const near = new NearCache(2);
 * const mark = near.begin("k");
 * near.settle("k", mark, null);
 * console.log(near.lookup("k")); // null
 * near.invalidate("k");
 * console.log(near.lookup("k")); // undefined
 * ```
 */
export class NearCache {
  readonly #max: number;
  readonly #map = new Map<string, StoredEntry | null | Pending>();

  /** Keep at most `maxEntries` entries (least recently used go first). */
  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  /** The kept answer for `key` (`null` = known absent), or `undefined`. */
  lookup(key: string): StoredEntry | null | undefined {
    const found = this.#map.get(key);
    if (found === undefined || found instanceof Pending) return undefined;
    // Move to the back: the map's order is the LRU order.
    this.#map.delete(key);
    this.#map.set(key, found);
    return found;
  }

  /** Mark `key` as being read; pass the mark to {@link NearCache.settle}. */
  begin(key: string): Pending {
    const mark = new Pending();
    this.#map.set(key, mark);
    return mark;
  }

  /** Keep `answer` for `key` unless it was invalidated since {@link NearCache.begin}. */
  settle(key: string, mark: Pending, answer: StoredEntry | null): void {
    if (this.#map.get(key) !== mark) return;
    this.#map.set(key, answer);
    if (this.#map.size > this.#max) {
      this.#map.delete(this.#map.keys().next().value!);
    }
  }

  /** Forget `key`, or everything for `null` (the server's "flush all"). */
  invalidate(key: string | null): void {
    if (key === null) this.#map.clear();
    else this.#map.delete(key);
  }

  /** Entries kept (pending reads included). */
  get size(): number {
    return this.#map.size;
  }
}
