/**
 * The Redis backend: the {@link AsyncBackend} operations on one Redis
 * server or a Redis Cluster. Reads are one command; every write is one Lua
 * script on the namespace's hash slot, so it is atomic even in a cluster.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { InvalidInputError } from "../../errors.ts";
import { RedisReplyError } from "./errors.ts";
import type {
  AsyncBackend,
  AttributionCursor,
  BatchWrite,
  CommitOutcome,
  EvictionResult,
  ForgetCandidate,
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
  UsedValue,
  VersionCheck,
  WriteExtras,
} from "../backend.ts";
import { type RedisArg, RedisLink } from "./connection.ts";
import { NamespaceKeys, parseRegistryMember, registryMember } from "./keys.ts";
import { NearCache } from "./near_cache.ts";
import * as eviction from "./eviction.ts";
import * as attribution from "./attribution.ts";
import {
  type RedisOptions,
  type ResolvedRedisOptions,
  resolveRedisOptions,
} from "./options.ts";
import {
  CHECK_SET,
  CLEAR,
  COMMIT,
  COUNTERS,
  DELETE,
  INCREMENT,
  INCREMENT_CHANGE,
  LIST,
  PURGE,
  RECOUNT,
  SCAN,
  SET,
  SET_CHANGE,
  USAGE,
} from "./scripts.ts";

/** How many one-key writes to a namespace answer a change between totals. */
const TOTALS_EVERY = 64;

/** `n` mod 2 as 0 or 1, also for a negative `n` beyond 32 bits. */
function mod2(n: number): number {
  return n % 2 === 0 ? 0 : 1;
}

function quotaArgs(quota: Quota | null): [string, string] {
  return quota === null
    ? ["", ""]
    : [String(quota.maxBytes), String(quota.maxKeys)];
}

function expiryArg(expiresAt: number | null): string {
  return expiresAt === null ? "" : String(expiresAt);
}

/** Keys are sent as UTF-8; a lone surrogate has no UTF-8 form and would collide. */
function checkWellFormed(key: string): void {
  if (!key.isWellFormed()) {
    throw new InvalidInputError(
      "key contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the string (String.prototype.toWellFormed)",
    );
  }
}

function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function num(text: Buffer | string | null | undefined): number {
  return Number(typeof text === "string" ? text : text?.toString("latin1"));
}

function expiryOf(x: Buffer | string | null | undefined): number | null {
  if (x === null || x === undefined || x.length === 0) return null;
  return num(x);
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * {@link AsyncBackend} on Redis or Redis Cluster. Open one with
 * {@link RedisBackend.open}.
 *
 * @example
 * ```ts ignore
 * import { RedisBackend } from "./backend.ts";
 * const b = await RedisBackend.open({ url: "redis://127.0.0.1:6379" });
 * await b.set(0, "demo", "k", new TextEncoder().encode("v"), null, 2, Date.now(), null);
 * console.log((await b.get(0, "demo", "k", Date.now()))?.version); // 1
 * await b.close();
 * ```
 */
export class RedisBackend implements AsyncBackend {
  readonly async = true as const;
  /** The write scripts record the sender and evict themselves (see `WriteExtras`). */
  readonly writeExtras = true;
  readonly path: string;
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #registry: string;
  /** Each namespace's key names, per space (no string built per lookup). */
  readonly #keys = [
    new Map<string, NamespaceKeys>(),
    new Map<string, NamespaceKeys>(),
  ];
  /**
   * Usage per namespace, as the server last reported it plus the changes
   * this process's writes made since (see #wantTotals).
   */
  readonly #known = new Map<string, KnownUsage>();
  /** Writes per namespace since the server last reported its totals. */
  readonly #sinceTotals = new Map<string, number>();
  /** Whether the server lets this user run MULTI/EXEC (for `list`). */
  #transactions = true;
  /** Until when (performance.now()) a namespace lists through the script. */
  readonly #scriptUntil = new WeakMap<NamespaceKeys, number>();
  /** Namespaces this process has already put in the registry. */
  readonly #registered = new Set<string>();
  #purgeStart = 0;

  /** The near cache and its tracking connection, when asked for. */
  readonly #near: NearCache | null;
  readonly #nearLink: RedisLink | null;

  private constructor(
    link: RedisLink,
    prefix: string,
    near: { cache: NearCache; link: RedisLink } | null,
  ) {
    this.#link = link;
    this.#near = near?.cache ?? null;
    this.#nearLink = near?.link ?? null;
    this.path = link.path;
    this.#prefix = prefix;
    this.#registry = prefix + "namespaces";
  }

  /**
   * Check `options`, connect, and return the backend. Fails with
   * `InvalidInputError` for bad options and `RedisUnavailableError` when
   * the server cannot be reached within `connectTimeoutMs`.
   */
  static async open(options: RedisOptions): Promise<RedisBackend> {
    return await RedisBackend.openResolved(resolveRedisOptions(options));
  }

  /** Like {@link RedisBackend.open}, with options already checked. */
  static async openResolved(
    resolved: ResolvedRedisOptions,
  ): Promise<RedisBackend> {
    const link = await RedisLink.open(resolved);
    try {
      await link.syncClock();
    } catch (err) {
      await link.close();
      throw err;
    }
    if (resolved.nearCache === null) {
      return new RedisBackend(link, resolved.keyPrefix, null);
    }
    const cache = new NearCache(resolved.nearCache);
    try {
      const nearLink = await RedisLink.open(
        resolved,
        (key) => cache.invalidate(key),
      );
      return new RedisBackend(link, resolved.keyPrefix, {
        cache,
        link: nearLink,
      });
    } catch (err) {
      await link.close();
      throw err;
    }
  }

  #note(space: Space, ns: string, keys: unknown, bytes: unknown): void {
    this.#noteAt(registryMember(space, ns), keys, bytes);
  }

  #noteAt(id: string, keys: unknown, bytes: unknown): void {
    const known = this.#known.get(id);
    if (known) {
      known.keys = Number(keys);
      known.bytes = Number(bytes);
    } else {
      this.#known.set(id, {
        keys: Number(keys),
        bytes: Number(bytes),
        hits: 0,
        misses: 0,
      });
    }
  }

  knownUsage(space: Space, ns: string): KnownUsage | undefined {
    const known = this.#known.get(registryMember(space, ns));
    return known && { ...known };
  }

  #ns(space: Space, ns: string): NamespaceKeys {
    const bySpace = this.#keys[space];
    let keys = bySpace.get(ns);
    if (!keys) {
      checkWellFormed(ns);
      keys = new NamespaceKeys(this.#prefix, space, ns);
      bySpace.set(ns, keys);
    }
    return keys;
  }

  /**
   * Put the namespace in the registry before its first write from this
   * process. The registry is in another slot, so this cannot be part of the
   * write's script; doing it first means a namespace holding data is always
   * listed.
   */
  /**
   * Put the namespace in the registry, once per process: `undefined` when
   * it is already there, else the pending `SADD`. Callers issue their write
   * right after it, without waiting in between, so the write keeps its
   * place in the order of requests (an un-awaited `set` followed by a `get`
   * reads the value, as on SQLite) and costs no extra round trip.
   */
  #register(space: Space, ns: string): Promise<void> | undefined {
    return this.#registerAt(this.#ns(space, ns).member);
  }

  #registerAt(member: string): Promise<void> | undefined {
    if (this.#registered.has(member)) return undefined;
    return this.#link.command<unknown>("register", this.#registry, false, [
      "SADD",
      this.#registry,
      member,
    ]).then(() => {
      this.#registered.add(member);
    });
  }

  /** Await `work` and the registration issued just before it. */
  async #withRegistration<T>(
    registering: Promise<void> | undefined,
    work: Promise<T>,
  ): Promise<T> {
    if (registering === undefined) return await work;
    return (await Promise.all([registering, work]))[1];
  }

  async get(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<StoredEntry | undefined> {
    checkWellFormed(key);
    const entry = this.#ns(space, ns).entry(key);
    if (this.#near !== null) return this.#nearGet(entry, now);
    const [v, n, w, x] = await this.#link.command<(Buffer | null)[]>(
      "get",
      entry,
      true,
      ["HMGET", entry, "v", "n", "w", "x"],
      true,
    );
    if (v === null) return undefined;
    const expiresAt = expiryOf(x);
    // Redis expires by its own clock; the caller's clock also decides, so a
    // value is never returned past the expiry either clock sees.
    if (expiresAt !== null && expiresAt <= now) return undefined;
    return {
      value: new Uint8Array(v),
      version: num(n),
      expiresAt,
      writtenAt: num(w),
    };
  }

  /**
   * A read through the near cache: a kept answer costs no request; a miss
   * reads on the tracking connection (so Redis will tell us when the key
   * changes) and keeps the answer unless it changed meanwhile.
   */
  async #nearGet(entry: string, now: number): Promise<StoredEntry | undefined> {
    const near = this.#near!;
    let found = near.lookup(entry);
    if (found === undefined) {
      const mark = near.begin(entry);
      const [v, n, w, x] = await this.#nearLink!.command<(Buffer | null)[]>(
        "get",
        entry,
        true,
        ["HMGET", entry, "v", "n", "w", "x"],
        true,
      );
      found = v === null ? null : {
        value: new Uint8Array(v),
        version: num(n),
        expiresAt: expiryOf(x),
        writtenAt: num(w),
      };
      near.settle(entry, mark, found);
    }
    if (found === null) return undefined;
    if (found.expiresAt !== null && found.expiresAt <= now) return undefined;
    // A copy: the caller may change the bytes it gets.
    return { ...found, value: found.value.slice() };
  }

  /** Drop keys this process is about to write from the near cache. */
  #forget(entry: string | null): void {
    this.#near?.invalidate(entry);
  }

  async getValue(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<Uint8Array | undefined> {
    checkWellFormed(key);
    const entry = this.#ns(space, ns).entry(key);
    if (this.#near !== null) return (await this.#nearGet(entry, now))?.value;
    const [v, x] = await this.#link.command<(Buffer | null)[]>(
      "get",
      entry,
      true,
      ["HMGET", entry, "v", "x"],
      true,
    );
    if (v === null) return undefined;
    const expiresAt = expiryOf(x);
    if (expiresAt !== null && expiresAt <= now) return undefined;
    return new Uint8Array(v);
  }

  async set(
    space: Space,
    ns: string,
    key: string,
    value: Uint8Array,
    expiresAt: number | null,
    size: number,
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): Promise<boolean> {
    checkWellFormed(key);
    const k = this.#ns(space, ns);
    const registering = this.#registerAt(k.member);
    const entry = k.entry(key);
    if (this.#near !== null) this.#forget(entry);
    const work = this.#link.run<
      number | [number, number, number, number?, number?]
    >(
      this.#wantTotals(k.member) ? SET : SET_CHANGE,
      writeKeys(k, entry, extras),
      writeArgs(
        key,
        asBuffer(value),
        expiresAt,
        size,
        now,
        quota,
        expiresAt === null ? 0 : this.#skew(now),
        extras,
      ),
    );
    const reply = registering === undefined
      ? await work
      : await this.#withRegistration(registering, work);
    if (typeof reply === "number") {
      // SET_CHANGE: 2 × bytes added + keys added.
      const keys = mod2(reply);
      this.#grew(k.member, keys, (reply - keys) / 2);
      return true;
    }
    const [written, keys, bytes, evicted, total] = reply;
    this.#noteAt(k.member, keys, bytes);
    // Entries evicted and the evictions so far come only when it evicted.
    if (evicted !== undefined) this.#evicted(k.member, total!);
    return written === 1;
  }

  /**
   * Whether a one-key write should answer the namespace's totals (SET,
   * INCREMENT) rather than the change it made (SET_CHANGE,
   * INCREMENT_CHANGE, one integer, cheaper to read): when this process
   * has no totals for it yet, and every {@link TOTALS_EVERY}th write after,
   * so what other processes wrote shows in `knownUsage` (the sweep's
   * `usage` calls refresh it too).
   */
  #wantTotals(member: string): boolean {
    if (!this.#known.has(member)) return true;
    const writes = (this.#sinceTotals.get(member) ?? 0) + 1;
    this.#sinceTotals.set(member, writes % TOTALS_EVERY);
    return writes === TOTALS_EVERY;
  }

  /** A write reported the change it made (see #wantTotals). */
  #grew(member: string, keys: number, bytes: number): void {
    const known = this.#known.get(member);
    if (known !== undefined) {
      known.keys += keys;
      known.bytes += bytes;
    }
  }

  /**
   * The server's clock minus the caller's, for a write's `PEXPIREAT`: 0
   * when they are within a second (a real clock; Redis then expires by the
   * same number), else the difference (a test clock ahead of or behind
   * the server's; Redis frees the entry after the same time span).
   */
  #skew(now: number): number {
    const skew = Math.round(Date.now() + this.#link.clockOffset() - now);
    return skew > -1000 && skew < 1000 ? 0 : skew;
  }

  /** A write script evicted: the near cache and the known count follow. */
  #evicted(member: string, total: number): void {
    this.#forget(null);
    const known = this.#known.get(member);
    if (known !== undefined) known.evictions = Number(total);
  }

  async delete(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<boolean> {
    checkWellFormed(key);
    const k = this.#ns(space, ns);
    const entry = k.entry(key);
    if (this.#near !== null) this.#forget(entry);
    const f = k.fixed;
    const [live, keys, bytes] = await this.#link.run<number[]>(DELETE, [
      f[0],
      f[1],
      f[2],
      f[3],
      f[4],
      entry,
    ], [key, String(now)]);
    this.#noteAt(k.member, keys, bytes);
    return live === 1;
  }

  #rangeArgs(r: KeyRange): string[] {
    const lo = r.exclusive ? "(" + r.from : r.from === "" ? "-" : "[" + r.from;
    const hi = r.before === null ? "+" : "(" + r.before;
    return [lo, hi, String(r.limit), String(r.now)];
  }

  /**
   * One page of keys. When nothing in the namespace is expired, the page
   * is the index range as it is: read it with a `MULTI` of `ZCOUNT` (on the
   * expiries) and `ZRANGEBYLEX`, a snapshot like the script but without
   * copying every key into Lua and back (~20 µs of server time for 100
   * keys). Otherwise, and on a cluster, the script walks the index,
   * skipping expired keys and forgetting them on the way. A namespace
   * found holding expired keys goes straight to the script for a second
   * (they stay until the sweep or a listing forgets them), so a namespace
   * full of expiring keys does not pay two round trips per page.
   */
  async list(range: KeyRange): Promise<string[]> {
    const k = this.#ns(range.space, range.ns);
    const args = this.#rangeArgs(range);
    const t = performance.now();
    if (this.#transactions && (this.#scriptUntil.get(k) ?? 0) <= t) {
      const fast = this.#link.transaction<[number, string[]]>("list", [
        ["ZCOUNT", k.expiries, "-inf", args[3]],
        ["ZRANGEBYLEX", k.index, args[0], args[1], "LIMIT", "0", args[2]],
      ]);
      if (fast !== null) {
        try {
          const [due, keys] = await fast;
          if (due === 0) return keys;
        } catch (err) {
          // An ACL user may run scripts but not MULTI/EXEC: the script
          // does the same, so use it from now on.
          if (!(err instanceof RedisReplyError && /^NOPERM/.test(err.reply))) {
            throw err;
          }
          this.#transactions = false;
        }
      }
    }
    const [dead, keys] = await this.#link.run<[number, string[]]>(
      LIST,
      k.fixed,
      args,
    );
    // Expired entries were found: more are likely to follow, so list
    // through the script for a second. Only stale expiry scores (moved up
    // by the script) go back to the fast path at once.
    if (dead > 0) this.#scriptUntil.set(k, t + 1_000);
    else this.#scriptUntil.delete(k);
    return keys;
  }

  async scan(range: KeyRange): Promise<KeyedEntry[]> {
    const k = this.#ns(range.space, range.ns);
    const flat = await this.#link.run<Buffer[]>(SCAN, [...k.fixed], [
      ...this.#rangeArgs(range),
      k.entryPrefix,
    ], true);
    const out: KeyedEntry[] = [];
    for (let i = 0; i < flat.length; i += 5) {
      out.push({
        key: flat[i].toString("utf8"),
        value: new Uint8Array(flat[i + 1]),
        version: num(flat[i + 2]),
        writtenAt: num(flat[i + 3]),
        expiresAt: expiryOf(flat[i + 4]),
      });
    }
    return out;
  }

  async clear(space: Space, ns: string): Promise<number> {
    const k = this.#ns(space, ns);
    this.#forget(null);
    const [n] = await this.#link.run<number[]>(CLEAR, [...k.fixed], [
      k.entryPrefix,
    ]);
    this.#note(space, ns, 0, 0);
    return n;
  }

  async usage(space: Space, ns: string): Promise<NamespaceUsage> {
    const k = this.#ns(space, ns);
    const u = await this.#link.run<string[]>(USAGE, [...k.fixed], []);
    this.#known.set(registryMember(space, ns), {
      keys: num(u[0]),
      bytes: num(u[1]),
      hits: num(u[2]),
      misses: num(u[3]),
      evictions: num(u[6]),
    });
    return {
      space,
      ns,
      keys: num(u[0]),
      bytes: num(u[1]),
      hits: num(u[2]),
      misses: num(u[3]),
      nextExpiry: u[4] === "" ? null : num(u[4]),
      oldest: u[5] === "" ? null : num(u[5]),
      evictions: num(u[6]),
    };
  }

  async #registeredNamespaces(): Promise<{ space: Space; ns: string }[]> {
    const members = await this.#link.command<string[]>(
      "namespaces",
      this.#registry,
      true,
      ["SMEMBERS", this.#registry],
    );
    return members.map(parseRegistryMember).filter((m) => m !== null);
  }

  async namespaces(): Promise<NamespaceUsage[]> {
    const found = await this.#registeredNamespaces();
    found.sort((a, b) => byteOrder(a.ns, b.ns) || a.space - b.space);
    return await Promise.all(found.map((m) => this.usage(m.space, m.ns)));
  }

  async addCounters(
    space: Space,
    ns: string,
    hits: number,
    misses: number,
  ): Promise<void> {
    if (hits === 0 && misses === 0) return;
    const k = this.#ns(space, ns);
    await this.#withRegistration(
      this.#register(space, ns),
      this.#link.run(COUNTERS, [k.meta], [String(hits), String(misses)]),
    );
    const known = this.#known.get(registryMember(space, ns));
    if (known) {
      known.hits += hits;
      known.misses += misses;
    }
  }

  /**
   * Forget up to `limit` expired entries, starting at the namespace after
   * `after` (in registry order). Redis has already deleted the entries
   * themselves; this keeps the index, sizes and counts in step.
   */
  async purgeExpired(
    now: number,
    limit: number,
    after: SweepCursor | null,
  ): Promise<PurgeStep<SweepCursor>> {
    const found = await this.#registeredNamespaces();
    found.sort((a, b) => a.space - b.space || byteOrder(a.ns, b.ns));
    let i = after === null ? 0 : found.findIndex((m) =>
      m.space > after.space ||
      (m.space === after.space && byteOrder(m.ns, after.ns) >= 0)
    );
    if (i === -1) return { deleted: 0, next: null };
    let deleted = 0;
    for (; i < found.length; i++) {
      const m = found[i];
      const step = await this.purgeExpiredIn(
        m.space,
        m.ns,
        now,
        limit - deleted,
        null,
      );
      deleted += step.deleted;
      // This namespace may have more: the next step starts here again.
      if (step.next !== null) return { deleted, next: { ...m, key: "" } };
      if (deleted >= limit) break;
    }
    const next = found[i + 1];
    return {
      deleted,
      next: next === undefined ? null : { ...next, key: "" },
    };
  }

  /**
   * Forget up to `limit` entries of one namespace expired at `now`, oldest
   * expiry first. `after` is not needed (forgotten entries leave the expiry
   * set), so the step is the same whatever it says.
   */
  async purgeExpiredIn(
    space: Space,
    ns: string,
    now: number,
    limit: number,
    _after: string | null,
  ): Promise<PurgeStep<string>> {
    const k = this.#ns(space, ns);
    const [deleted, looked, keys, bytes] = await this.#link.run<number[]>(
      PURGE,
      k.fixed,
      [String(now), String(limit)],
    );
    this.#note(space, ns, keys, bytes);
    return { deleted, next: looked < limit ? null : "" };
  }

  async recount(space: Space, ns: string): Promise<boolean> {
    const k = this.#ns(space, ns);
    return await this.#link.run<number>(RECOUNT, [...k.fixed], []) === 1;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  async increment(
    space: Space,
    ns: string,
    key: string,
    by: number,
    expiresAt: number | null,
    keySize: number,
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): Promise<IncrementResult> {
    checkWellFormed(key);
    const k = this.#ns(space, ns);
    const registering = this.#registerAt(k.member);
    const entry = k.entry(key);
    if (this.#near !== null) this.#forget(entry);
    const work = this.#link.run<number | (number | string)[]>(
      this.#wantTotals(k.member) ? INCREMENT : INCREMENT_CHANGE,
      writeKeys(k, entry, extras),
      // An existing counter keeps its expiry, so the skew is always sent.
      writeArgs(
        key,
        String(by),
        expiresAt,
        keySize,
        now,
        quota,
        this.#skew(now),
        extras,
      ),
    );
    const reply = registering === undefined
      ? await work
      : await this.#withRegistration(registering, work);
    if (typeof reply === "number") {
      // INCREMENT_CHANGE: 2 × the sum + keys added; the bytes added follow
      // (a new counter's size, or the digits the value gained).
      const keys = mod2(reply);
      const sum = (reply - keys) / 2;
      const digits = String(sum).length;
      this.#grew(
        k.member,
        keys,
        keys === 1 ? keySize + digits : digits - String(sum - by).length,
      );
      return { kind: "ok", value: sum };
    }
    this.#noteAt(k.member, reply[2], reply[3]);
    switch (reply[0]) {
      case 1:
        if (reply[4] !== undefined) {
          this.#evicted(k.member, reply[5] as number);
        }
        return { kind: "ok", value: Number(reply[1]) };
      case 2:
        // The value's first 64 bytes, as text (for the error message).
        return { kind: "not-integer", text: String(reply[1]) };
      case 3:
        return { kind: "overflow" };
      default:
        return { kind: "quota" };
    }
  }

  async writeMany(
    space: Space,
    ns: string,
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): Promise<boolean> {
    if (writes.length === 0) return true;
    return await this.commit(space, ns, [], writes, now, quota, extras) ===
      "ok";
  }

  async commit(
    space: Space,
    ns: string,
    checks: readonly VersionCheck[],
    writes: readonly BatchWrite[],
    now: number,
    quota: Quota | null,
    extras?: WriteExtras,
  ): Promise<CommitOutcome> {
    const k = this.#ns(space, ns);
    const evict = extras?.evict;
    // The common shape (read one key, write it back if unchanged) has a
    // script of its own, lighter than the general batch.
    if (
      checks.length === 1 && writes.length === 1 &&
      writes[0].value !== null && writes[0].key === checks[0].key
    ) {
      return await this.#checkSet(k, checks[0], writes[0], now, quota, evict);
    }
    const index = new Map<string, number>();
    const names: string[] = [];
    const slot = (key: string) => {
      let j = index.get(key);
      if (j === undefined) {
        checkWellFormed(key);
        names.push(key);
        j = names.length;
        index.set(key, j);
      }
      return String(j);
    };
    const checkArgs: RedisArg[] = [];
    for (const c of checks) {
      checkArgs.push(slot(c.key), c.version === null ? "" : String(c.version));
    }
    const writeArgs: RedisArg[] = [];
    for (const w of writes) {
      if (w.value === null) writeArgs.push("d", slot(w.key), "", "", "0");
      else {
        writeArgs.push(
          "s",
          slot(w.key),
          asBuffer(w.value),
          expiryArg(w.expiresAt),
          String(w.size),
        );
      }
    }
    const registering = writes.length > 0
      ? this.#register(space, ns)
      : undefined;
    if (this.#near !== null) {
      for (const w of writes) this.#forget(k.entry(w.key));
    }
    const entries = names.map((name) => k.entry(name));
    // The read stamps key goes last (the script finds it after the entry
    // keys), only when the script may evict.
    if (evict !== undefined) entries.push(k.used);
    const [outcome, keys, bytes, evicted, total] = await this.#withRegistration(
      registering,
      this.#link.run<[string, number, number, number, number]>(COMMIT, [
        ...k.fixed,
        ...entries,
      ], [
        String(now),
        ...quotaArgs(quota),
        String(names.length),
        ...names,
        String(checks.length),
        ...checkArgs,
        String(writes.length),
        ...writeArgs,
        evict === undefined ? "" : String(evict.batch),
        evict === undefined ? "" : String(evict.maxRows),
        String(this.#skew(now)),
      ]),
    );
    this.#note(space, ns, keys, bytes);
    if (evicted > 0) this.#evicted(k.member, total);
    return outcome as CommitOutcome;
  }

  /** {@link RedisBackend.commit} of one key checked and set (CHECK_SET). */
  async #checkSet(
    k: NamespaceKeys,
    check: VersionCheck,
    write: BatchWrite,
    now: number,
    quota: Quota | null,
    evict: WriteExtras["evict"],
  ): Promise<CommitOutcome> {
    checkWellFormed(write.key);
    const registering = this.#registerAt(k.member);
    const entry = k.entry(write.key);
    if (this.#near !== null) this.#forget(entry);
    const f = k.fixed;
    const keys: RedisArg[] = [f[0], f[1], f[2], f[3], f[4], entry];
    if (evict !== undefined) keys.push(k.used);
    const work = this.#link.run<[1 | 2 | 3, number, number, number?, number?]>(
      CHECK_SET,
      keys,
      [
        write.key,
        asBuffer(write.value!),
        expiryArg(write.expiresAt),
        String(write.size),
        String(now),
        ...quotaArgs(quota),
        String(write.expiresAt === null ? 0 : this.#skew(now)),
        "",
        evict === undefined ? "" : String(evict.batch),
        evict === undefined ? "" : String(evict.maxRows),
        check.version === null ? "" : String(check.version),
      ],
    );
    const [outcome, usedKeys, usedBytes, evicted, total] =
      registering === undefined
        ? await work
        : await this.#withRegistration(registering, work);
    this.#noteAt(k.member, usedKeys, usedBytes);
    // Entries evicted and the evictions so far come only when it evicted.
    if (evicted !== undefined) this.#evicted(k.member, total!);
    return CHECK_SET_OUTCOMES[outcome];
  }

  // The optional primitives (eviction.ts, attribution.ts).

  getValueUsed(
    space: Space,
    ns: string,
    key: string,
    now: number,
  ): Promise<UsedValue | undefined> {
    checkWellFormed(key);
    return eviction.getValueUsed(this.#link, this.#ns(space, ns), key, now);
  }

  touch(
    space: Space,
    ns: string,
    reads: ReadonlyMap<string, number>,
  ): Promise<void> {
    return eviction.touch(this.#link, this.#ns(space, ns), reads);
  }

  counts(space: Space, ns: string): Promise<{ keys: number; bytes: number }> {
    return eviction.counts(this.#link, this.#ns(space, ns));
  }

  async evict(
    space: Space,
    ns: string,
    keys: number,
    bytes: number,
    quota: Quota,
    atLeast: number,
    maxRows: number,
    now: number,
  ): Promise<EvictionResult> {
    // Evicted entries leave the near cache as any other delete does.
    this.#forget(null);
    const out = await eviction.evict(
      this.#link,
      this.#ns(space, ns),
      keys,
      bytes,
      quota,
      atLeast,
      maxRows,
      now,
    );
    this.#note(space, ns, out.usedKeys, out.usedBytes);
    this.#known.get(registryMember(space, ns))!.evictions = out.evictions;
    return { keys: out.keys, bytes: out.bytes };
  }

  attribute(
    space: Space,
    ns: string,
    key: string,
    sender: string,
  ): Promise<void> {
    checkWellFormed(key);
    return attribution.attribute(this.#link, this.#ns(space, ns), key, sender);
  }

  async forgetCandidates(sender: string): Promise<ForgetCandidate[]> {
    const found = await this.#registeredNamespaces();
    const per = await Promise.all(
      found.map((m) =>
        attribution.forgetCandidatesIn(
          this.#link,
          this.#ns(m.space, m.ns),
          m.space,
          m.ns,
          sender,
        )
      ),
    );
    return per.flat();
  }

  async dropAttributions(sender: string): Promise<void> {
    const found = await this.#registeredNamespaces();
    await Promise.all(
      found.map((m) =>
        attribution.dropAttributionsIn(
          this.#link,
          this.#ns(m.space, m.ns),
          sender,
        )
      ),
    );
  }

  /**
   * Namespaces in registry order (space, then name in byte order); within
   * one, attributions in the order of their set. The cursor names the
   * namespace and the last attribution looked at.
   */
  async pruneAttributions(
    after: AttributionCursor | null,
    limit: number,
  ): Promise<AttributionCursor | null> {
    const found = await this.#registeredNamespaces();
    found.sort((a, b) => a.space - b.space || byteOrder(a.ns, b.ns));
    let i = after === null ? 0 : found.findIndex((m) =>
      m.space > after.space ||
      (m.space === after.space && byteOrder(m.ns, after.ns) >= 0)
    );
    if (i === -1) return null;
    let from = after !== null && found[i].space === after.space &&
        found[i].ns === after.ns
      ? { sender: after.sender, key: after.key }
      : null;
    let left = limit;
    for (; i < found.length; i++) {
      const m = found[i];
      const step = await attribution.pruneAttributionsIn(
        this.#link,
        this.#ns(m.space, m.ns),
        from,
        left,
      );
      // A full step may have more after it: go on from there next time.
      if (step.looked >= left) {
        return { space: m.space, ns: m.ns, ...step.last };
      }
      left -= step.looked;
      from = null;
    }
    return null;
  }

  async close(): Promise<void> {
    this.#forget(null);
    await Promise.all([this.#link.close(), this.#nearLink?.close()]);
  }
}

/** CHECK_SET's answers, by their number. */
const CHECK_SET_OUTCOMES = [undefined, "ok", "check", "quota"] as const;

/**
 * The keys of the one-key write scripts (SET, INCREMENT), in their order:
 * the read stamps and attributions keys only when the script may need
 * them (each key and argument costs time on every request).
 */
function writeKeys(
  k: NamespaceKeys,
  entry: RedisArg,
  extras: WriteExtras | undefined,
): RedisArg[] {
  const f = k.fixed;
  return extras !== undefined &&
      (extras.sender !== undefined || extras.evict !== undefined)
    ? [f[0], f[1], f[2], f[3], f[4], entry, k.used, k.attributions]
    : [f[0], f[1], f[2], f[3], f[4], entry];
}

/**
 * The arguments of the one-key write scripts: the key, the value (SET) or
 * the amount (INCREMENT), then what both take in the same order; the skew
 * only when it is not 0 or extras follow, the extras only when there are
 * any.
 */
function writeArgs(
  key: string,
  operand: RedisArg,
  expiresAt: number | null,
  size: number,
  now: number,
  quota: Quota | null,
  skew: number,
  extras: WriteExtras | undefined,
): RedisArg[] {
  const args: RedisArg[] = [
    key,
    operand,
    expiresAt === null ? "" : String(expiresAt),
    String(size),
    String(now),
    quota === null ? "" : String(quota.maxBytes),
    quota === null ? "" : String(quota.maxKeys),
  ];
  const sender = extras?.sender;
  const evict = extras?.evict;
  if (sender !== undefined || evict !== undefined) {
    args.push(
      String(skew),
      sender ?? "",
      evict === undefined ? "" : String(evict.batch),
      evict === undefined ? "" : String(evict.maxRows),
    );
  } else if (skew !== 0) args.push(String(skew));
  return args;
}
