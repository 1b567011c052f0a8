/**
 * The cache commands: look at, change and clean what plugins stored. Each
 * checks its arguments, calls the library, and prints a table or, with
 * `--json`, one JSON document.
 *
 * @module
 */
import { DEFAULT_TTL } from "../cache/options.ts";
import { checkArgs, parseLimit } from "./args.ts";
import { type Command, printValue, utf8 } from "./command.ts";
import { kindOf, openCache } from "./context.ts";
import { KeyNotFoundError, UsageError } from "./errors.ts";
import {
  formatAge,
  formatCount,
  formatExpiry,
  parseTtl,
  plural,
} from "./format.ts";
import { readStdin } from "./output.ts";
import { createProgress } from "./progress.ts";

/** Imported when a table is printed (see help() in cli.ts for why). */
function table(): Promise<typeof import("./table.ts")> {
  return import("./table.ts");
}

async function readValueArg(arg: string): Promise<Uint8Array> {
  return arg === "-" ? await readStdin() : new TextEncoder().encode(arg);
}
const namespaces: Command = {
  name: "namespaces",
  aliases: ["plugins"],
  summary: "list namespaces (one per plugin) with their usage",
  usage: "",
  description:
    "Every namespace that ever held an entry, in both keyspaces (cache: expiring; store: never-expiring), with its keys, bytes, hit and miss counts, when its oldest entry was written and the next expiry. Key and byte counts include expired entries not yet purged.",
  options: [],
  examples: ["sup-cache namespaces", "sup-cache plugins --json"],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, []);
    await using cache = await openCache(ctx, { create: false });
    const list = await cache.namespaces();
    if (ctx.values.json) return await ctx.out.json(list), 0;
    if (list.length === 0) {
      await ctx.out.line(`no namespaces yet in ${cache.path}`);
      return 0;
    }
    const now = Date.now();
    await ctx.out.line((await table()).renderTable(
      [
        { header: "KIND" },
        { header: "NAMESPACE" },
        { header: "KEYS", right: true },
        { header: "BYTES", right: true },
        { header: "HITS", right: true },
        { header: "MISSES", right: true },
        { header: "OLDEST" },
        { header: "NEXT EXPIRY" },
      ],
      list.map((ns) => [
        ns.kind,
        ns.name,
        formatCount(ns.keys),
        formatCount(ns.bytes),
        formatCount(ns.hits),
        formatCount(ns.misses),
        ns.oldest === null ? "-" : formatAge(ns.oldest, now),
        ns.keys === 0 ? "-" : formatExpiry(ns.nextExpiry, now),
      ]),
    ));
    return 0;
  },
};

const keys: Command = {
  name: "keys",
  summary: "list the live keys of a namespace",
  usage: "<namespace>",
  description:
    "The live (unexpired) keys of one namespace in byte order, with each value's size and expiry.",
  options: [
    ["prefix", "--prefix P", "only keys starting with P (matched literally)"],
    ["limit", "--limit N", "at most N keys"],
    ["store", "--store", "the never-expiring store instead of the cache"],
  ],
  examples: [
    "sup-cache keys counter",
    "sup-cache keys counter --prefix user: --limit 20",
    "sup-cache keys settings --store --json",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["<namespace>"]);
    const limit = parseLimit(ctx.values.limit);
    const kind = kindOf(ctx.values);
    await using cache = await openCache(ctx, { create: false });
    const [name] = ctx.args;
    const ns = kind === "store" ? cache.store(name) : cache.namespace(name);
    const rows: { key: string; bytes: number; expiresAt: number | null }[] = [];
    let more = false;
    // scan, not get: an operator looking must not skew the plugin's hits.
    // One entry past the limit says whether there are more.
    const entries = ns.scan({
      prefix: ctx.values.prefix,
      limit: limit === null ? 1_000 : Math.min(1_000, limit + 1),
    });
    for await (const entry of entries) {
      if (limit !== null && rows.length >= limit) {
        more = true;
        break;
      }
      rows.push({
        key: entry.key,
        bytes: entry.value.length,
        expiresAt: entry.expiresAt,
      });
    }
    if (ctx.values.json) {
      await ctx.out.json({ kind, namespace: name, keys: rows, more });
      return 0;
    }
    if (rows.length === 0) {
      await ctx.out.line(
        `no live keys in ${kind} namespace ${JSON.stringify(name)}${
          ctx.values.prefix === undefined
            ? ""
            : ` with prefix ${JSON.stringify(ctx.values.prefix)}`
        }`,
      );
      return 0;
    }
    const now = Date.now();
    await ctx.out.line((await table()).renderTable(
      [{ header: "KEY" }, { header: "BYTES", right: true }, {
        header: "EXPIRES",
      }],
      rows.map((
        r,
      ) => [r.key, formatCount(r.bytes), formatExpiry(r.expiresAt, now)]),
    ));
    if (more) {
      await ctx.out.note(
        `(more keys than --limit ${limit}; raise --limit or narrow --prefix)`,
      );
    }
    return 0;
  },
};

const get: Command = {
  name: "get",
  summary: "print the value of a key",
  usage: "<namespace> <key>",
  description:
    "Prints the value: raw bytes when stdout is a pipe or file, text on a terminal. With --json: the value in base64, as text when it is UTF-8, its version and expiry. A missing or expired key exits with code 1.",
  options: [[
    "store",
    "--store",
    "the never-expiring store instead of the cache",
  ]],
  examples: [
    "sup-cache get counter visits",
    "sup-cache get images logo > logo.png",
    "sup-cache get settings lang --store --json",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["<namespace>", "<key>"]);
    const kind = kindOf(ctx.values);
    await using cache = await openCache(ctx, { create: false });
    const [name, key] = ctx.args;
    const ns = kind === "store" ? cache.store(name) : cache.namespace(name);
    const entry = await ns.peek(key);
    if (!entry) throw new KeyNotFoundError(kind, name, key);
    if (ctx.values.json) {
      await ctx.out.json({
        kind,
        namespace: name,
        key,
        value: entry.value.toBase64(),
        text: utf8(entry.value),
        bytes: entry.value.length,
        version: entry.version,
        expiresAt: entry.expiresAt,
      });
      return 0;
    }
    await printValue(ctx, entry.value, `the value of ${JSON.stringify(key)}`);
    return 0;
  },
};

const set: Command = {
  name: "set",
  summary: "store a value under a key",
  usage: "<namespace> <key> <value|->",
  description:
    'Stores the value (use - to read it from stdin, byte for byte). Cache entries expire after --ttl (default 1h); store entries never expire unless --ttl is given. --ttl takes a unit: 500ms, 30s, 5m, 2h, 1d, or "never".',
  options: [
    ["ttl", "--ttl D", "time to live: 30s, 5m, 2h, 1d, or never"],
    ["store", "--store", "the never-expiring store instead of the cache"],
  ],
  examples: [
    "sup-cache set counter visits 41",
    "sup-cache set weather berlin '12°C' --ttl 10m",
    "sup-cache set images logo - --ttl never < logo.png",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["<namespace>", "<key>", "<value|->"]);
    const kind = kindOf(ctx.values);
    const ttl = ctx.values.ttl === undefined
      ? undefined
      : parseTtl(ctx.values.ttl);
    const [name, key, arg] = ctx.args;
    const value = await readValueArg(arg);
    await using cache = await openCache(ctx, { create: true });
    const ns = kind === "store" ? cache.store(name) : cache.namespace(name);
    await ns.set(key, value, ttl === undefined ? undefined : { ttl });
    // openCache passes no ttl, so a cache write without --ttl gets the
    // library default.
    const applied = ttl !== undefined
      ? ttl
      : kind === "store"
      ? null
      : DEFAULT_TTL;
    if (ctx.values.json) {
      await ctx.out.json({
        kind,
        namespace: name,
        key,
        bytes: value.length,
        ttl: applied,
      });
    } else {
      await ctx.out.line(
        `stored ${plural(value.length, "byte")} under ${
          JSON.stringify(key)
        } in ${kind} namespace ${JSON.stringify(name)}`,
      );
    }
    return 0;
  },
};

const rm: Command = {
  name: "rm",
  aliases: ["delete"],
  summary: "delete keys, or a whole namespace with --all",
  usage: "<namespace> [key...]",
  description:
    "Deletes the given keys. A key that was not there makes the exit code 1 (the others are still deleted). --all empties the namespace instead.",
  options: [
    ["all", "--all", "delete every key of the namespace"],
    ["store", "--store", "the never-expiring store instead of the cache"],
  ],
  examples: [
    "sup-cache rm counter visits",
    "sup-cache rm counter --all",
  ],
  async run(ctx) {
    const [name, ...names] = ctx.args;
    if (name === undefined) {
      throw new UsageError(
        "rm needs <namespace> and keys (or --all); see sup-cache rm --help",
        "rm",
      );
    }
    if (ctx.values.all ? names.length > 0 : names.length === 0) {
      throw new UsageError(
        ctx.values.all
          ? "rm --all empties the whole namespace; give no keys with it"
          : "rm needs at least one key after the namespace, or --all",
        "rm",
      );
    }
    const kind = kindOf(ctx.values);
    await using cache = await openCache(ctx, { create: false });
    const ns = kind === "store" ? cache.store(name) : cache.namespace(name);
    if (ctx.values.all) {
      const removed = await ns.clear();
      if (ctx.values.json) {
        await ctx.out.json({ kind, namespace: name, removed });
      } else {
        await ctx.out.line(
          `removed ${
            plural(removed, "entry", "entries")
          } from ${kind} namespace ${JSON.stringify(name)}`,
        );
      }
      return 0;
    }
    const removed: string[] = [];
    const missing: string[] = [];
    for (const key of names) {
      (await ns.delete(key) ? removed : missing).push(key);
    }
    if (ctx.values.json) {
      await ctx.out.json({ kind, namespace: name, removed, missing });
    } else {
      for (const key of removed) {
        await ctx.out.line(`removed ${JSON.stringify(key)}`);
      }
    }
    if (missing.length === 0) return 0;
    if (!ctx.values.json) {
      for (const key of missing) {
        await ctx.out.note(
          `sup-cache rm: ${new KeyNotFoundError(kind, name, key).message}`,
        );
      }
    }
    return 1;
  },
};

const purge: Command = {
  name: "purge",
  summary: "delete every expired entry now",
  usage: "",
  description:
    "Deletes expired entries of every namespace at once, in batches, and reports how many. Expired entries are never returned anyway; this frees their space now instead of waiting for the background sweep.",
  options: [],
  examples: ["sup-cache purge", "sup-cache purge --json"],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, []);
    await using cache = await openCache(ctx, { create: false });
    const progress = createProgress("purging expired entries");
    let purged;
    try {
      purged = await cache.purgeExpired((n) => progress.update(n));
    } finally {
      progress.end();
    }
    if (ctx.values.json) await ctx.out.json({ purged });
    else {await ctx.out.line(
        `purged ${plural(purged, "expired entry", "expired entries")}`,
      );}
    return 0;
  },
};
const forget: Command = {
  name: "forget",
  summary: "delete everything stored for one person, in every plugin",
  usage: "<sender>",
  description:
    "Deletes, in every namespace of both keyspaces, each entry a plugin wrote while handling a message from <sender> (as the host passed it, e.g. 34600000000@s.whatsapp.net), and each entry whose key has <sender> as a whole ':'-separated segment (ratelimit:<sender>, <sender>:lang). One transaction per namespace. Lists what was deleted per plugin and which rule matched: 'sender' (written for them) or 'key-segment'. Entries the host wrote outside a message are attributed to no one.",
  options: [[
    "dry-run",
    "--dry-run",
    "list what would be deleted, delete nothing",
  ]],
  examples: [
    "sup-cache forget 34600000000@s.whatsapp.net --dry-run",
    "sup-cache forget 34600000000@s.whatsapp.net --json",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["sender"]);
    const [sender] = ctx.args;
    await using cache = await openCache(ctx, { create: false });
    const dryRun = ctx.values["dry-run"] === true;
    const reports = await cache.forget(sender, { dryRun });
    if (ctx.values.json) {
      await ctx.out.json({ sender, dryRun, namespaces: reports });
      return 0;
    }
    const verb = dryRun ? "would delete" : "deleted";
    let total = 0;
    for (const r of reports) {
      total += r.keys.length;
      for (const k of r.keys) {
        await ctx.out.line(
          `${verb} ${r.kind} ${JSON.stringify(r.name)} ${
            JSON.stringify(k.key)
          } (${k.rule})`,
        );
      }
    }
    await ctx.out.line(
      `${verb} ${plural(total, "entry", "entries")} for ${
        JSON.stringify(sender)
      } in ${plural(reports.length, "namespace", "namespaces")}`,
    );
    return 0;
  },
};

/** The cache commands, in the order `--help` lists them. */
export const CACHE_COMMANDS: Command[] = [
  namespaces,
  keys,
  get,
  set,
  rm,
  purge,
  forget,
];
