/**
 * `atomic()`: checks and writes committed together, in the style of Deno
 * KV's `AtomicOperation`.
 *
 * @module
 */
import type {
  AtomicCheck,
  AtomicMutation,
  NamespaceCore,
} from "./namespace.ts";
import type { CacheValue, CommitResult, SetOptions } from "./types.ts";

// Set by the class's static block (see async_namespace.ts for why).
let makeAtomic: (ns: NamespaceCore) => AtomicOperation;

/** A new batch on `ns` (for `Namespace.atomic()`; not exported by mod.ts). */
export function atomicOperationOf(ns: NamespaceCore): AtomicOperation {
  return makeAtomic(ns);
}

/**
 * A batch of checks and writes on one namespace. Nothing happens until
 * `commit()`; then either every check holds and every write lands, or
 * nothing is written and `ok` is `false`.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const ns = cache.namespace("bank");
 * await ns.set("alice", "10");
 * const entry = await ns.getEntry("alice");
 * const res = await ns.atomic()
 *   .check("alice", entry!.version)
 *   .set("alice", "5")
 *   .set("bob", "5")
 *   .commit();
 * console.log(res.ok); // true
 * ```
 */
export class AtomicOperation {
  readonly #ns: NamespaceCore;
  readonly #checks: AtomicCheck[] = [];
  readonly #mutations: AtomicMutation[] = [];

  static {
    makeAtomic = (ns) => new AtomicOperation(ns);
  }

  /** Made by `Namespace.atomic()` only. */
  private constructor(ns: NamespaceCore) {
    this.#ns = ns;
  }

  /** Require `key` to be at `version` (from `getEntry`), or absent when `null`. */
  check(key: string, version: number | null): this {
    this.#checks.push({ key, version });
    return this;
  }

  /** Write `value` under `key` at commit. */
  set(key: string, value: CacheValue, options?: SetOptions): this {
    this.#mutations.push({ type: "set", key, value, options });
    return this;
  }

  /** Delete `key` at commit. */
  delete(key: string): this {
    this.#mutations.push({ type: "delete", key });
    return this;
  }

  /** Commit without a Promise (for host functions). */
  commitSync(): CommitResult {
    const ns = this.#ns;
    return { ok: ns.runSync(ns.commit(this.#checks, this.#mutations)) };
  }

  /** Commit: `{ ok: false }` when a check failed, and then nothing was written. */
  commit(): Promise<CommitResult> {
    const ns = this.#ns;
    return ns.run(ns.commit(this.#checks, this.#mutations)).then((ok) => ({
      ok,
    }));
  }
}
