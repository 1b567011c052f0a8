/**
 * Where a namespace's data lives in Redis. Every key of one namespace
 * carries the same hash tag, so Redis Cluster puts them all in one slot and
 * a Lua script may touch them together (atomic `increment`, `atomic()`,
 * quotas). Different namespaces get different tags and spread over the
 * cluster.
 *
 * Layout, for prefix `P` (default `sc:`), space `s` and namespace `n`:
 *
 * ```
 * P{T}m        hash: seq (version sequence), keys, bytes, hits, misses
 * P{T}i        sorted set, all scores 0: every stored key (for list)
 * P{T}s        hash: key -> size in bytes (key + value)
 * P{T}x        sorted set: key scored at or before its expiresAt (expiring
 *              keys only; see EXPIRED in scripts.ts)
 * P{T}w        sorted set: key scored at or before its writtenAt (for "oldest")
 * P{T}u        sorted set: key scored by its last recorded read (eviction.ts)
 * P{T}a        sorted set: who entries were written for (attribution.ts)
 * P{T}e<key>   hash: v (value), n (version), w (writtenAt), x (expiresAt or ""),
 *              s (size, as in P{T}s), q (its score in P{T}x, "" = none),
 *              a<sender> (written for that sender, attribution.ts)
 * Pnamespaces  set of s + n, every namespace that ever held data
 * ```
 *
 * with `T = s + esc(n)`.
 *
 * ## Why the layout is injective (no two namespaces or keys share a Redis key)
 *
 * `esc` maps each code point of the name on its own: `%`, `{` and `}`
 * become `%25`, `%7B` and `%7D`; a lone UTF-16 surrogate (which has no
 * UTF-8 form) becomes `%u` and four hex digits; every other code point
 * stays as it is (its UTF-8 bytes). The images form a prefix code: an image
 * starting with `%` is exactly one of the fixed escapes, told apart by the
 * character after `%` (`2`/`7` then one fixed digit, or `u` then exactly
 * four digits), and no unescaped image starts with `%`; UTF-8 itself is a
 * prefix code for code points. A concatenation of prefix-code images
 * decodes one way only, so `esc` is injective on all strings, and its
 * output never contains `}`.
 *
 * A full key is `P` `{` `T` `}` then a fixed tail. `P` contains no `{`
 * (checked when the prefix is set), so the first `{` is ours; `T` contains
 * no `}`, so the first `}` after it ends `T`. Redis hashes exactly that
 * text, so the slot depends on `T` alone. Reading a key back: strip `P{`,
 * read `T` up to the first `}`; the first character of `T` is the space
 * (one digit), the rest decodes to `n`; the character after `}` is one of
 * `m i s x w u a` (the whole tail) or `e` followed by the key's UTF-8 bytes.
 * Every step is determined by the key's bytes, so distinct
 * (space, namespace, structure, key) give distinct Redis keys. Keys of
 * entries are raw UTF-8 (they sort in byte order in the index, which is
 * what `list` promises); the backend refuses keys that are not well-formed
 * strings, the only ones whose UTF-8 form would not be unique.
 *
 * The registry member is `s + n`: the space is one character, so it is
 * injective too. The registry is one key for the whole database; in a
 * cluster it lives in its own slot, which is fine for a listing (it is
 * never part of an atomic step).
 *
 * @module
 */
import { InvalidInputError } from "../../errors.ts";
import type { Space } from "../backend.ts";

/**
 * Escape a namespace name for a hash tag; see the module doc for why it is
 * injective and never contains `}`.
 *
 * @example
 * ```ts
 * import { escapeTagPart } from "./keys.ts";
 * console.log(escapeTagPart("a}b{c%")); // "a%7Db%7Bc%25"
 * ```
 */
export function escapeTagPart(name: string): string {
  // Fast path: most names need no escape at all.
  if (!/[%{}\uD800-\uDFFF]/.test(name)) return name;
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x25) out += "%25";
    else if (c === 0x7b) out += "%7B";
    else if (c === 0x7d) out += "%7D";
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length) {
      const d = name.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += name[i] + name[i + 1];
        i++;
      } else out += "%u" + c.toString(16).toUpperCase().padStart(4, "0");
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += "%u" + c.toString(16).toUpperCase().padStart(4, "0");
    } else out += name[i];
  }
  return out;
}

/**
 * Undo {@link escapeTagPart}; used by tests to show the mapping loses
 * nothing.
 *
 * @example
 * ```ts
 * import { escapeTagPart, unescapeTagPart } from "./keys.ts";
 * console.log(unescapeTagPart(escapeTagPart("x}%y"))); // "x}%y"
 * ```
 */
export function unescapeTagPart(escaped: string): string {
  return escaped.replace(
    /%(25|7B|7D|u[0-9A-F]{4})/g,
    (_, code: string) =>
      code[0] === "u"
        ? String.fromCharCode(parseInt(code.slice(1), 16))
        : String.fromCharCode(parseInt(code, 16)),
  );
}

/**
 * The Redis keys of one namespace. Made once per namespace and reused, so
 * a hot operation does not rebuild them.
 *
 * @example
 * ```ts
 * import { NamespaceKeys } from "./keys.ts";
 * const k = new NamespaceKeys("sc:", 0, "counter");
 * console.log(k.meta); // "sc:{0counter}m"
 * console.log(k.entry("visits")); // "sc:{0counter}evisits"
 * ```
 */
export class NamespaceKeys {
  /** The hash tag with its braces, `{T}`. */
  readonly tag: string;
  /** Version sequence, counters and usage. */
  readonly meta: string;
  /** Every key, for `list`. */
  readonly index: string;
  /** Key -> size. */
  readonly sizes: string;
  /** Key scored by expiry. */
  readonly expiries: string;
  /** Key scored by creation time (see `USAGE` in scripts.ts). */
  readonly writes: string;
  /** Key -> last recorded read (eviction.ts `usedKey`). */
  readonly used: string;
  /** Who entries were written for (attribution.ts `attributionKey`). */
  readonly attributions: string;
  /** The five bookkeeping keys in the order every script takes them. */
  readonly fixed: readonly string[];
  /** The text every entry key starts with. */
  readonly entryPrefix: string;
  /** The namespace's member in the registry ({@link registryMember}). */
  readonly member: string;

  /** `prefix` must not contain `{` (see {@link checkKeyPrefix}). */
  constructor(prefix: string, space: Space, ns: string) {
    const head = `${prefix}{${space}${escapeTagPart(ns)}}`;
    this.tag = head.slice(prefix.length);
    this.meta = head + "m";
    this.index = head + "i";
    this.sizes = head + "s";
    this.expiries = head + "x";
    this.writes = head + "w";
    this.used = head + "u";
    this.attributions = head + "a";
    this.fixed = [
      this.meta,
      this.index,
      this.sizes,
      this.expiries,
      this.writes,
    ];
    this.entryPrefix = head + "e";
    this.member = registryMember(space, ns);
  }

  /**
   * The Redis key of one entry. Text, not bytes: node-redis writes a
   * command of strings as one buffer, but splits one with a Buffer in it
   * into chunks (measurably slower). The key is well-formed (the backend
   * checks), so its UTF-8 form is exact.
   */
  entry(key: string): string {
    return this.entryPrefix + key;
  }
}

/**
 * The registry member of a namespace: its space digit, then its name.
 *
 * @example
 * ```ts
 * import { registryMember, parseRegistryMember } from "./keys.ts";
 * console.log(parseRegistryMember(registryMember(1, "a:b"))); // { space: 1, ns: "a:b" }
 * ```
 */
export function registryMember(space: Space, ns: string): string {
  return `${space}${ns}`;
}

/** Split a registry member back into space and name; `null` if it is not one. */
export function parseRegistryMember(
  member: string,
): { space: Space; ns: string } | null {
  const space = member[0];
  if ((space !== "0" && space !== "1") || member.length < 2) return null;
  return { space: Number(space) as Space, ns: member.slice(1) };
}

/**
 * Refuse a key prefix that would break the layout: a `{` or `}` in it
 * would move the hash tag.
 *
 * @example
 * ```ts
 * import { checkKeyPrefix } from "./keys.ts";
 * console.log(checkKeyPrefix("bot:")); // "bot:"
 * ```
 */
export function checkKeyPrefix(prefix: unknown): string {
  if (typeof prefix !== "string" || /[{}]/.test(prefix)) {
    throw new InvalidInputError(
      `redis.keyPrefix must be a string without "{" or "}" (they would move the hash tag), got ${
        JSON.stringify(prefix)
      }`,
    );
  }
  return prefix;
}
