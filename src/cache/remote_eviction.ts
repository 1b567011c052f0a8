/**
 * Eviction for a namespace on an {@link AsyncBackend} (Redis): the
 * asynchronous twin of `Eviction` in eviction.ts, with the same policy
 * (reads recorded coarsely and only near the quota, expired entries first,
 * then the least recently used, in batches), calling the backend's
 * optional primitives `counts`, `getValueUsed`, `touch` and `evict`.
 *
 * The one difference: a network store has no transaction that holds a
 * lock while JavaScript runs, so the eviction and the write it makes room
 * for are two atomic steps, not one. The write still checks the quota
 * itself, so the quota always holds; another writer may take the room
 * first, and then this write evicts again (a few rounds at most). See
 * docs/scale-out.md.
 *
 * @module
 */
import type { AsyncBackend, Quota, Space } from "../storage/async_backend.ts";
import type { Clock } from "./clock.ts";
import { TOUCH_BATCH, TOUCH_EVERY_MS } from "./eviction.ts";

/** Reads are recorded from this fill of a quota (keys or bytes) on. */
const WATCH_FILL = 0.75;
/** Most entries one eviction frees, so the next writes find room. */
const BATCH_MAX = 640;
/** Most entries one write may evict; past that the write is refused. */
const MAX_ROWS = 4_096;
/** Evict-then-write rounds before a write that keeps losing its room gives up. */
const ROUNDS = 4;

type EvictingBackend =
  & AsyncBackend
  & Required<
    Pick<AsyncBackend, "getValueUsed" | "touch" | "counts" | "evict">
  >;

/**
 * Whether `backend` can evict (the optional methods are all there).
 *
 * @example
 * ```ts ignore
 * import { RedisBackend } from "../storage/redis/backend.ts";
 * import { canEvictRemote } from "./remote_eviction.ts";
 * const b = await RedisBackend.open({ url: "redis://127.0.0.1:6379" });
 * console.log(canEvictRemote(b)); // true
 * await b.close();
 * ```
 */
export function canEvictRemote(
  backend: AsyncBackend,
): backend is EvictingBackend {
  return typeof backend.evict === "function" &&
    typeof backend.touch === "function" &&
    typeof backend.counts === "function" &&
    typeof backend.getValueUsed === "function";
}

/** The eviction state of one remote cache namespace in one process. */
export class RemoteEviction {
  /** Reads are being recorded (the namespace is near its quota). */
  watching = false;
  readonly #backend: EvictingBackend;
  readonly #space: Space;
  readonly #ns: string;
  readonly #quota: Quota;
  readonly #clock: Clock;
  readonly #reads = new Map<string, number>();
  readonly #checkEvery: number;
  #writes: number;

  constructor(
    backend: EvictingBackend,
    space: Space,
    ns: string,
    quota: Quota,
    clock: Clock,
  ) {
    this.#backend = backend;
    this.#space = space;
    this.#ns = ns;
    this.#quota = quota;
    this.#clock = clock;
    this.#checkEvery = Math.max(
      1,
      Math.min(64, Math.floor(quota.maxKeys / 16)),
    );
    // The first write looks at how full the namespace is.
    this.#writes = this.#checkEvery - 1;
  }

  /** Look again at how full the namespace is. */
  async check(): Promise<void> {
    const { keys, bytes } = await this.#backend.counts(this.#space, this.#ns);
    this.watching = keys >= this.#quota.maxKeys * WATCH_FILL ||
      bytes >= this.#quota.maxBytes * WATCH_FILL;
  }

  /** Count a write; every few, {@link RemoteEviction.check}. */
  async wrote(): Promise<void> {
    if (++this.#writes >= this.#checkEvery) {
      this.#writes = 0;
      await this.check();
    }
  }

  /** `get` while watching: the value, recording the read when due. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const now = this.#clock.now();
    const found = await this.#backend.getValueUsed(
      this.#space,
      this.#ns,
      key,
      now,
    );
    if (found === undefined) return undefined;
    if (now - found.usedAt >= TOUCH_EVERY_MS && !this.#reads.has(key)) {
      this.#reads.set(key, now);
      if (this.#reads.size >= TOUCH_BATCH) await this.flush();
    }
    return found.value;
  }

  /** Write recorded reads, in one step. */
  async flush(): Promise<void> {
    if (this.#reads.size === 0) return;
    const reads = new Map(this.#reads);
    this.#reads.clear();
    await this.#backend.touch(this.#space, this.#ns, reads);
  }

  /**
   * Make room for `keys` entries of `bytes`, then run `attempt` (resolving
   * `false` = over quota, nothing written); `false` when there is still no
   * room or the write can never fit.
   */
  async makeRoom(
    keys: number,
    bytes: number,
    attempt: () => Promise<boolean>,
  ): Promise<boolean> {
    const quota = this.#quota;
    if (keys > quota.maxKeys || bytes > quota.maxBytes) return false;
    this.watching = true;
    await this.flush();
    for (let round = 0; round < ROUNDS; round++) {
      const { keys: n, bytes: b } = await this.#backend.counts(
        this.#space,
        this.#ns,
      );
      // As in eviction.ts: room for many more writes, so the next ones do
      // not pay for an eviction each.
      const capacity = n > 0
        ? Math.min(quota.maxKeys, quota.maxBytes / (b / n))
        : quota.maxKeys;
      const atLeast = Math.max(
        1,
        Math.min(BATCH_MAX, Math.floor(capacity / 16)),
      );
      const freed = await this.#backend.evict(
        this.#space,
        this.#ns,
        keys,
        bytes,
        quota,
        atLeast,
        MAX_ROWS,
        this.#clock.now(),
      );
      if (await attempt()) return true;
      if (freed.keys === 0) return false;
    }
    return false;
  }
}
