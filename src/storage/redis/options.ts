/**
 * Options of the Redis backend, and their checks.
 *
 * @module
 */
import { checkOptions } from "../../check_options.ts";
import { InvalidInputError } from "../../errors.ts";
import { checkKeyPrefix } from "./keys.ts";

/**
 * Where and how to reach Redis. Give `url` (one server) or `cluster`
 * (some nodes of a Redis Cluster; the rest are discovered).
 *
 * @example
 * ```ts
 * import type { RedisOptions } from "./options.ts";
 * const single: RedisOptions = { url: "redis://127.0.0.1:6379/0" };
 * const cluster: RedisOptions = { cluster: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"] };
 * console.log(single.url, cluster.cluster?.length); // "redis://127.0.0.1:6379/0" 2
 * ```
 */
export interface RedisOptions {
  /**
   * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS.
   */
  url?: string;
  /** URLs of one or more cluster nodes (same form as `url`, without a db). */
  cluster?: string[];
  /**
   * Start of every key sup-cache writes (default `"sc:"`), so it can share
   * a database with other applications. Must not contain `{` or `}`.
   */
  keyPrefix?: string;
  /** How long opening may take before it fails, in ms. Default 5,000. */
  connectTimeoutMs?: number;
  /**
   * How long one operation may wait for its answer (including waiting for
   * a reconnect) before it fails with `RedisUnavailableError`, in ms.
   * Default 5,000.
   */
  commandTimeoutMs?: number;
  /**
   * Keep entries read from Redis in this process (a "near cache"), kept
   * coherent by Redis's client-side caching (RESP3 `CLIENT TRACKING`): a
   * repeated read costs no round trip; a change by another process is seen
   * once its invalidation arrives (under a millisecond on a LAN). `true`
   * keeps up to 10,000 entries; `{ maxEntries }` sets the bound. One server
   * only (not a cluster). Off by default.
   */
  nearCache?: boolean | { maxEntries?: number };
}

/** {@link RedisOptions} checked, with defaults filled in. */
export interface ResolvedRedisOptions {
  /** One server URL, or `null` for a cluster. */
  url: string | null;
  /** Cluster node URLs, or `null` for one server. */
  cluster: string[] | null;
  /** Key prefix. */
  keyPrefix: string;
  /** Open deadline, ms. */
  connectTimeoutMs: number;
  /** Per-operation deadline, ms. */
  commandTimeoutMs: number;
  /** Most entries of the near cache, or `null` when it is off. */
  nearCache: number | null;
  /** Where the data lives, without passwords, for messages. */
  path: string;
}

const KNOWN = [
  "url",
  "cluster",
  "keyPrefix",
  "connectTimeoutMs",
  "commandTimeoutMs",
  "nearCache",
] as const;

function checkUrl(value: unknown, where: string): URL {
  let url: URL;
  try {
    if (typeof value !== "string") throw new TypeError();
    url = new URL(value);
  } catch {
    throw new InvalidInputError(
      `${where} must be a URL like "redis://127.0.0.1:6379/0", got ${
        JSON.stringify(value)
      }`,
    );
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new InvalidInputError(
      `${where} must start with redis:// or rediss:// (TLS), got ${
        JSON.stringify(url.protocol)
      }`,
    );
  }
  return url;
}

/**
 * The URL for messages: the password is replaced by `***`.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./options.ts";
 * console.log(redactUrl("redis://bot:s3cret@cache:6379/2")); // "redis://bot:***@cache:6379/2"
 * ```
 */
export function redactUrl(value: string): string {
  const url = new URL(value);
  if (url.password !== "") url.password = "***";
  return url.href.replace(/\/$/, "");
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidInputError(
      `redis.${name} must be a positive whole number${
        name.endsWith("Ms") ? " of milliseconds" : ""
      }, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Check {@link RedisOptions}: unknown names, exactly one of `url` and
 * `cluster`, well-formed URLs, sane deadlines.
 *
 * @example
 * ```ts
 * import { resolveRedisOptions } from "./options.ts";
 * console.log(resolveRedisOptions({ url: "redis://localhost:6379" }).keyPrefix); // "sc:"
 * ```
 */
export function resolveRedisOptions(options: unknown): ResolvedRedisOptions {
  checkOptions(options, KNOWN, "redis");
  const o = (options ?? {}) as RedisOptions;
  if ((o.url === undefined) === (o.cluster === undefined)) {
    throw new InvalidInputError(
      'redis needs exactly one of url (one server) or cluster (a list of node URLs), e.g. { url: "redis://127.0.0.1:6379" }',
    );
  }
  let path: string;
  if (o.url !== undefined) {
    checkUrl(o.url, "redis.url");
    path = redactUrl(o.url);
  } else {
    if (!Array.isArray(o.cluster) || o.cluster.length === 0) {
      throw new InvalidInputError(
        'redis.cluster must be a non-empty list of node URLs, e.g. ["redis://10.0.0.1:7000"]',
      );
    }
    o.cluster.forEach((u, i) => checkUrl(u, `redis.cluster[${i}]`));
    path = `cluster ${o.cluster.map(redactUrl).join(",")}`;
  }
  let nearCache: number | null = null;
  if (o.nearCache !== undefined && o.nearCache !== false) {
    if (o.cluster !== undefined) {
      throw new InvalidInputError(
        "redis.nearCache works with one server (url), not with a cluster; leave it out for a cluster",
      );
    }
    if (o.nearCache === true) nearCache = 10_000;
    else if (typeof o.nearCache === "object" && o.nearCache !== null) {
      checkOptions(o.nearCache, ["maxEntries"], "redis.nearCache");
      nearCache = positive(
        "nearCache.maxEntries",
        o.nearCache.maxEntries,
        10_000,
      );
    } else {
      throw new InvalidInputError(
        `redis.nearCache must be true, false or { maxEntries }, got ${
          JSON.stringify(o.nearCache)
        }`,
      );
    }
  }
  return {
    nearCache,
    url: o.url ?? null,
    cluster: o.cluster ? [...o.cluster] : null,
    keyPrefix: o.keyPrefix === undefined ? "sc:" : checkKeyPrefix(o.keyPrefix),
    connectTimeoutMs: positive("connectTimeoutMs", o.connectTimeoutMs, 5_000),
    commandTimeoutMs: positive("commandTimeoutMs", o.commandTimeoutMs, 5_000),
    path,
  };
}
