/**
 * What `ns.list()` and `ns.scan()` return: awaited, one page (as before);
 * iterated with `for await`, every item from the first page to the last,
 * as Deno KV's `kv.list()` iterates. Nobody writes a cursor loop.
 *
 * @module
 */

/** A page of a listing: its items and the cursor of the next page. */
export interface Paged {
  /** Pass to the next call; `null` when this page is the last. */
  cursor: string | null;
}

/**
 * One listing, usable two ways. `await ns.list(options)` resolves to one
 * page (`{ keys, cursor }`), as it always has; `for await (const key of
 * ns.list(options))` walks every page in order, `limit` being the page
 * size, starting at `options.cursor` when given. The first page is asked
 * for at once (so bad options fail as early as before, and a later write
 * is not seen by it); iterating uses that page, then asks for the next.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("users");
 * await ns.setMany([["user:ada", "1"], ["user:bob", "2"], ["team:x", "3"]]);
 * const page = await ns.list({ prefix: "user:" }); // one page
 * console.log(page.keys); // [ "user:ada", "user:bob" ]
 * for await (const key of ns.list({ prefix: "user:", limit: 1 })) {
 *   console.log(key); // "user:ada", then "user:bob"
 * }
 * ```
 */
export class PagedList<T, P extends Paged>
  implements PromiseLike<P>, AsyncIterableIterator<T> {
  readonly #first: Promise<P>;
  readonly #next: (cursor: string) => Promise<P>;
  readonly #items: (page: P) => readonly T[];
  #walk: AsyncGenerator<T, undefined, undefined> | undefined;

  /**
   * Made by `Namespace.list()` and `Namespace.scan()`: `first` is the first
   * page, `next(cursor)` fetches a later one, `items` picks a page's items.
   */
  constructor(
    first: Promise<P>,
    next: (cursor: string) => Promise<P>,
    items: (page: P) => readonly T[],
  ) {
    this.#first = first;
    // Awaited or iterated, the first page's error reaches the caller; one
    // nobody looks at (a listing made and dropped) is not a crash.
    first.catch(() => {});
    this.#next = next;
    this.#items = items;
  }

  /** The first page, as `await` sees it. */
  then<A = P, B = never>(
    onfulfilled?: ((page: P) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#first.then(onfulfilled, onrejected);
  }

  /** The first page's failure, as `Promise.catch`. */
  catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<P | B> {
    return this.#first.catch(onrejected);
  }

  /** As `Promise.finally`, on the first page. */
  finally(onfinally?: (() => void) | null): Promise<P> {
    return this.#first.finally(onfinally);
  }

  async *#pages(): AsyncGenerator<T, undefined, undefined> {
    let page = await this.#first;
    for (;;) {
      yield* this.#items(page);
      if (page.cursor === null) return undefined;
      page = await this.#next(page.cursor);
    }
  }

  /** The next item, fetching the next page when this one is used up. */
  next(): Promise<IteratorResult<T, undefined>> {
    return (this.#walk ??= this.#pages()).next();
  }

  /** Stop iterating (what `break` in a `for await` calls). */
  return(): Promise<IteratorResult<T, undefined>> {
    return (this.#walk ??= this.#pages()).return(undefined);
  }

  /** `for await` iterates the listing itself. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Shown by `console.log` and `String()`. */
  get [Symbol.toStringTag](): string {
    return "PagedList";
  }
}
