/**
 * One implementation for synchronous and asynchronous backends: each cache
 * operation is written once, as a generator that yields what a backend call
 * returned (`const v = yield* wait(backend.getValue(...))`), and a runner
 * decides what "waiting" means. {@link runSync} hands every value straight
 * back (SQLite answers at once; this is what `ns.sync` and the plugin host
 * functions run); {@link runAsync} awaits each one and throws a rejection
 * back into the generator, where `try`/`catch` sees it as if the call had
 * thrown (Redis).
 *
 * Why not Babel's `gensync`, which does this: its leaves must be gensync
 * functions of their own (a `sync` and an `async` implementation each), so
 * every backend call would need a wrapper, and its runner checks start and
 * suspend markers on every step; ours is a ten-line loop over plain values.
 * The one-key operations (`get`, `set`, `increment`, `delete`) do not come
 * here on their common path at all: they call the backend once and finish
 * on its answer, and only a write that must make room (or look at how full
 * its namespace is) runs generators (namespace.ts, `#write`).
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";

/** An operation written once for both runners; `T` is its result. */
export type Op<T> = Generator<unknown, T, unknown>;

/**
 * Wait for a backend answer: `v` itself from a synchronous backend, the
 * resolved value of a Promise from an asynchronous one.
 *
 * @example
 * ```ts
 * import { runAsync, runSync, wait } from "./run.ts";
 * function* twice(x: number | Promise<number>) {
 *   return 2 * (yield* wait(x));
 * }
 * console.log(runSync(twice(2)), await runAsync(twice(Promise.resolve(3)))); // 4 6
 * ```
 */
export function* wait<T>(v: T | Promise<T>): Generator<unknown, T, unknown> {
  return (yield v) as T;
}

/**
 * Run `op` to the end without waiting: every yielded value is already the
 * answer. A Promise here is a bug (an async backend behind the sync face),
 * reported instead of being handed on as if it were a value.
 *
 * @example
 * ```ts
 * import { runSync, wait } from "./run.ts";
 * function* add(a: number) { return (yield* wait(a)) + 1; }
 * console.log(runSync(add(41))); // 42
 * ```
 */
export function runSync<T>(op: Op<T>): T {
  let step = op.next();
  while (!step.done) {
    const value = step.value;
    if (value instanceof Promise) {
      value.catch(() => {});
      step = op.throw(
        new InvalidInputError(
          "an asynchronous backend answered a synchronous call; use the async API",
        ),
      );
    } else {
      step = op.next(value);
    }
  }
  return step.value;
}

/**
 * Run `op`, awaiting each yielded value; a rejection is thrown into the
 * generator at the `wait` that yielded it.
 *
 * @example
 * ```ts
 * import { runAsync, wait } from "./run.ts";
 * function* safe() {
 *   try {
 *     return yield* wait(Promise.reject(new Error("down")));
 *   } catch (err) {
 *     return (err as Error).message;
 *   }
 * }
 * console.log(await runAsync(safe())); // "down"
 * ```
 */
export async function runAsync<T>(op: Op<T>): Promise<T> {
  let step = op.next();
  while (!step.done) {
    let value: unknown;
    try {
      value = await step.value;
    } catch (err) {
      step = op.throw(err);
      continue;
    }
    step = op.next(value);
  }
  return step.value;
}

/**
 * Apply `f` to a backend answer: at once for a plain value, after it
 * resolves for a Promise. For the one-step attempts of a write, which the
 * write yields directly (no generator of their own).
 *
 * @example
 * ```ts
 * import { then } from "./run.ts";
 * console.log(then(2, (x) => x + 1), await then(Promise.resolve(2), (x) => x + 1)); // 3 3
 * ```
 */
export function then<T, U>(
  v: T | Promise<T>,
  f: (v: T) => U,
): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/**
 * Run `ops` to the end: one after another when `concurrent` is false (a
 * synchronous backend, where there is nothing to overlap), all at once
 * otherwise (a networked backend, where each waits for its own round trip).
 *
 * @example
 * ```ts
 * import { all, runAsync, wait } from "./run.ts";
 * const seen: number[] = [];
 * function* note(n: number) { seen.push(yield* wait(Promise.resolve(n))); }
 * await runAsync(all([note(1), note(2)], true));
 * console.log(seen); // [ 1, 2 ]
 * ```
 */
export function* all<T>(ops: Op<T>[], concurrent: boolean): Op<T[]> {
  if (!concurrent) {
    const out: T[] = [];
    for (const op of ops) out.push(yield* op);
    return out;
  }
  return yield* wait(Promise.all(ops.map((op) => runAsync(op))));
}
