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
  /**
   * TLS settings for `rediss://` URLs (without them, `rediss://` trusts
   * the system's certificate authorities). `ca`: the certificate
   * authorities to trust instead, as PEM text (one string or several), for
   * a server whose certificate a private CA signed. Needs `rediss://`; for
   * a cluster, applies to every node.
   */
  tls?: { ca?: string | string[] };
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
  /** Certificate authorities to trust (PEM), or `null` for the system's. */
  tlsCa: string[] | null;
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
  "tls",
] as const;

function checkUrl(value: unknown, where: string): URL {
  let url: URL;
  try {
    if (typeof value !== "string") throw new TypeError();
    url = new URL(value);
  } catch {
    throw new InvalidInputError(
      `${where} must be a URL like "redis://127.0.0.1:6379/0", got ${
        JSON.stringify(
          typeof value === "string" ? redactLoosely(value) : typeof value,
        )
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
 * A string that is not a valid URL, for messages: whatever stands between
 * the first `:` after `//` and the last `@` is taken for a password (it may
 * hold any character, so the parser cannot be trusted to find it) and
 * shown as `***`. Hiding too much is harmless here; showing a password is
 * not.
 */
function redactLoosely(value: string): string {
  const at = value.lastIndexOf("@");
  if (at === -1) return value;
  const slashes = value.indexOf("//");
  const from = slashes === -1 || slashes > at ? 0 : slashes + 2;
  const colon = value.indexOf(":", from);
  if (colon === -1 || colon > at) return value;
  return value.slice(0, colon + 1) + "***" + value.slice(at);
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

function checkTls(o: RedisOptions): string[] | null {
  if (o.tls === undefined) return null;
  if (typeof o.tls !== "object" || o.tls === null) {
    throw new InvalidInputError(
      `redis.tls must be an object like { ca: "-----BEGIN CERTIFICATE-----..." }, got ${
        JSON.stringify(o.tls)
      }`,
    );
  }
  checkOptions(o.tls, ["ca"], "redis.tls");
  const urls = o.url !== undefined ? [o.url] : o.cluster ?? [];
  const plain = urls.find((u) => !u.startsWith("rediss:"));
  if (plain !== undefined) {
    throw new InvalidInputError(
      `redis.tls applies to rediss:// URLs only, but ${
        JSON.stringify(redactUrl(plain))
      } is plain redis://; use rediss:// (TLS) or leave tls out`,
    );
  }
  const ca = o.tls.ca;
  if (ca === undefined) return null;
  const list = typeof ca === "string" ? [ca] : ca;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((c) =>
      typeof c === "string" && c.includes("-----BEGIN CERTIFICATE-----")
    )
  ) {
    throw new InvalidInputError(
      'redis.tls.ca must be PEM text ("-----BEGIN CERTIFICATE-----...", e.g. Deno.readTextFileSync("ca.crt")) or a non-empty list of them',
    );
  }
  return [...list];
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
    tlsCa: checkTls(o),
    url: o.url ?? null,
    cluster: o.cluster ? [...o.cluster] : null,
    keyPrefix: o.keyPrefix === undefined ? "sc:" : checkKeyPrefix(o.keyPrefix),
    connectTimeoutMs: positive("connectTimeoutMs", o.connectTimeoutMs, 5_000),
    commandTimeoutMs: positive("commandTimeoutMs", o.commandTimeoutMs, 5_000),
    path,
  };
}
