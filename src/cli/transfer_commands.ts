/**
 * The transfer commands: `export` and `import` (JSON Lines, for moves and
 * partial backups), `import-sup` (migrating a sup installation), and
 * `backup` and `restore` (the whole database file). The work is in
 * `src/transfer/`; these parse arguments, show progress and print the report.
 *
 * @module
 */
import { basename } from "node:path";
import { checkArgs } from "./args.ts";
import type { Command } from "./command.ts";
import { databaseOf, openCache, redisOf, userPath } from "./context.ts";
import { UsageError } from "./errors.ts";
import { escapeInline } from "./escape.ts";
import { formatCount, plural } from "./format.ts";
import { readStdin, type Sink, writeAll } from "./output.ts";
import { createProgress } from "./progress.ts";
import type { Keyspace } from "../cache/types.ts";

/**
 * The transfer library, imported when one of these commands runs: its ten
 * modules would otherwise load at every start of the tool, `message` and
 * `get` included.
 */
function transfer(): Promise<typeof import("../transfer/mod.ts")> {
  return import("../transfer/mod.ts");
}

function kindOption(
  command: string,
  kind: string | undefined,
): Keyspace | undefined {
  if (kind !== undefined && kind !== "cache" && kind !== "store") {
    throw new UsageError(
      `--kind must be cache or store, got ${JSON.stringify(kind)}`,
      command,
    );
  }
  return kind;
}

/** Lines gathered into large writes: one system call per line is slow. */
function lineWriter(sink: Sink) {
  const encoder = new TextEncoder();
  let buffer: string[] = [];
  let size = 0;
  const flush = async () => {
    if (buffer.length === 0) return;
    const text = buffer.join("");
    buffer = [];
    size = 0;
    await writeAll(sink, encoder.encode(text));
  };
  return {
    async line(text: string) {
      buffer.push(text, "\n");
      size += text.length + 1;
      if (size >= 1 << 16) await flush();
    },
    flush,
  };
}

const STDIN_PATHS = ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"];
const STDOUT_PATHS = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

const fileSink = (file: Deno.FsFile): Sink => ({
  write: (p) => file.write(p),
  isTerminal: () => false,
});

const exportCommand: Command = {
  name: "export",
  summary: "write live entries as JSON Lines (move, partial backup)",
  usage: "",
  description:
    "Writes every live entry as JSON Lines: a header line, then one line per entry with kind, namespace, key, value (base64) and expiresAt (ms since the epoch, or null). Expiry is absolute, so an import later keeps the remaining TTL. Output goes to stdout unless --output is given; the summary goes to stderr when the data goes to stdout. --output never writes over the live database, its -wal or -shm file, or any SQLite file, and replaces an existing file only with --force; the file is written beside the target and moved into place when complete.",
  options: [
    ["output", "-o, --output FILE", "write to FILE instead of stdout"],
    ["force", "--force", "replace FILE if it exists (never a database)"],
    ["namespace", "--namespace N", "only namespace N (repeatable)"],
    ["kind", "--kind K", "only cache or only store entries"],
  ],
  examples: [
    "sup-cache export --output backup.jsonl",
    "sup-cache export --namespace counter > counter.jsonl",
    "sup-cache export --kind store | gzip > store.jsonl.gz",
  ],
  async run(ctx) {
    const { checkOutput, exportCache, writeOutput } = await transfer();
    checkArgs(ctx.command, ctx.args, []);
    const kind = kindOption("export", ctx.values.kind);
    const output = ctx.values.output;
    // Deno wants --allow-all to open /dev/stdout by name; it is stdout anyway.
    const path = output === undefined || output === "-" ||
        STDOUT_PATHS.includes(output)
      ? undefined
      : userPath(output);
    if (path === undefined && ctx.values.force) {
      throw new UsageError("--force only goes with --output FILE", "export");
    }
    const target = {
      force: ctx.values.force,
      // With --redis there is no database file to protect.
      protect: redisOf(ctx) === null ? [databaseOf(ctx)] : [],
    };
    // Refused before the cache is even opened: nothing is written or created.
    if (path !== undefined) checkOutput(path, target);
    await using cache = await openCache(ctx, { create: false });
    const progress = createProgress("exporting");
    const run = async (sink: Sink) => {
      const out = lineWriter(sink);
      const summary = await exportCache(cache, out.line, {
        kind,
        namespaces: ctx.values.namespace,
        onProgress: (n, total) => progress.update(n, total),
      });
      await out.flush();
      return summary;
    };
    let summary;
    try {
      summary = path === undefined
        ? await run(ctx.out.stdout)
        : await writeOutput(path, target, (file) => run(fileSink(file)));
    } finally {
      progress.end();
    }
    const report = { ...summary, output: path ?? null };
    if (ctx.values.json) {
      // With the data on stdout, the summary must not mix into it.
      if (path === undefined) await ctx.out.jsonNote(report);
      else await ctx.out.json(report);
      return 0;
    }
    const text = `exported ${
      plural(summary.entries, "entry", "entries")
    } from ${plural(summary.namespaces, "namespace")}${
      path === undefined ? "" : ` to ${path}`
    }`;
    if (path === undefined) await ctx.out.note(text);
    else await ctx.out.line(text);
    return 0;
  },
};

/** Imported when a table is printed (see help() in cli.ts for why). */
async function skippedTable(rows: [string, string][]): Promise<string> {
  const { renderTable } = await import("./table.ts");
  return renderTable([{ header: "SKIPPED" }, { header: "REASON" }], rows);
}

const importCommand: Command = {
  name: "import",
  summary: "read entries written by export",
  usage: "<file|->",
  description:
    "Reads an export and writes its entries, keeping each remaining TTL. The input may be a file, - for stdin, or a pipe such as <(zcat backup.jsonl.gz); stdin and pipes are read into memory, files are streamed. The whole input is checked first: a malformed line (bad JSON, bad base64, an expiresAt outside what a JavaScript Date holds) stops the import before anything is written. Entries are then written in batches, one transaction per batch. Entries that have expired since the export, and keys that already exist (unless --overwrite), are skipped and listed with the reason.",
  options: [["overwrite", "--overwrite", "replace keys that already exist"]],
  examples: [
    "sup-cache import backup.jsonl",
    "sup-cache import <(zcat store.jsonl.gz)",
    "sup-cache export --data-dir old | sup-cache import - --data-dir new",
  ],
  async run(ctx) {
    const {
      bytesSource,
      checkExport,
      DEFAULT_KEEP_BYTES,
      openSource,
      writeExport,
    } = await transfer();
    checkArgs(ctx.command, ctx.args, ["<file|->"]);
    const [arg] = ctx.args;
    // Deno wants --allow-all to open /dev/stdin by name; it is stdin anyway.
    const stdin = arg === "-" || STDIN_PATHS.includes(arg);
    const name = arg === "-" ? "stdin" : arg;
    const source = stdin
      ? bytesSource(await readStdin())
      : await openSource(userPath(arg));
    // Checked before the cache is opened, so a bad file creates nothing.
    const checked = await checkExport(name, source, DEFAULT_KEEP_BYTES);
    const total = checked.total;
    await using cache = await openCache(ctx, { create: true });
    const progress = createProgress("importing");
    let report;
    try {
      report = await writeExport(cache, name, source, checked, {
        overwrite: ctx.values.overwrite,
        onProgress: (n) => progress.update(n, total),
      });
    } finally {
      progress.end();
    }
    if (ctx.values.json) return await ctx.out.json(report), 0;
    await ctx.out.line(
      `imported ${plural(report.imported, "entry", "entries")}, skipped ${
        formatCount(report.skipped.length)
      }`,
    );
    if (report.skipped.length > 0) {
      await ctx.out.line(
        await skippedTable(report.skipped.map((s) => [
          `${s.kind} ${s.namespace} ${s.key} (line ${s.line})`,
          s.reason,
        ])),
      );
    }
    return 0;
  },
};

const importSupCommand: Command = {
  name: "import-sup",
  summary: "migrate a sup cache.db or store.db",
  usage: "<cache.db|store.db>",
  description:
    "Moves the key_values table of a sup installation (github.com/rubiojr/kv) into sup-cache: a key stored as plugin:key becomes key in namespace plugin (split at the first colon), a cache.db fills the cache, a store.db the store, and each remaining TTL is kept. The sup file is opened read-only. Rows that cannot move (expired, no plugin prefix, a key that is not UTF-8 or holds NUL, an expiry that is not a real time, a key that already exists, a limit) are listed with the reason.",
  options: [
    ["kind", "--kind K", "cache or store, when the file name does not say"],
    ["overwrite", "--overwrite", "replace keys that already exist"],
  ],
  examples: [
    "sup-cache import-sup ~/.local/share/sup/cache/cache.db",
    "sup-cache import-sup ./backup/sup-store.sqlite --kind store --json",
  ],
  async run(ctx) {
    const { checkSupDatabase, importSup } = await transfer();
    checkArgs(ctx.command, ctx.args, ["<cache.db|store.db>"]);
    const kind = kindOption("import-sup", ctx.values.kind);
    const path = userPath(ctx.args[0]);
    const name = basename(path);
    if (kind === undefined && name !== "cache.db" && name !== "store.db") {
      throw new UsageError(
        `cannot tell from the name ${
          JSON.stringify(name)
        } whether it is sup's cache or its store; pass --kind cache or --kind store`,
        "import-sup",
      );
    }
    await Deno.stat(path);
    checkSupDatabase(path, kind);
    await using cache = await openCache(ctx, { create: true });
    const progress = createProgress("migrating");
    let report;
    try {
      report = await importSup(cache, path, {
        kind,
        overwrite: ctx.values.overwrite,
        onProgress: (n, total) => progress.update(n, total),
      });
    } finally {
      progress.end();
    }
    if (ctx.values.json) return await ctx.out.json(report), 0;
    const per = Object.entries(report.namespaces).map(([n, c]) =>
      `${escapeInline(n)} ${formatCount(c)}`
    ).join(", ");
    await ctx.out.line(
      `moved ${formatCount(report.moved)} of ${
        formatCount(report.total)
      } ${report.kind} entries${per ? ` (${per})` : ""}, skipped ${
        formatCount(report.skipped.length)
      }${
        report.notUtf8 > 0
          ? ` (${plural(report.notUtf8, "key")} not valid UTF-8)`
          : ""
      }`,
    );
    if (report.skipped.length > 0) {
      await ctx.out.line(
        await skippedTable(report.skipped.map((s) => [s.key, s.reason])),
      );
    }
    return 0;
  },
};

const backupCommand: Command = {
  name: "backup",
  summary: "copy the database to one consistent file, while plugins write",
  usage: "<file>",
  description:
    "Copies cache.db with SQLite's online backup API in one step: a consistent snapshot taken in one read transaction, safe while plugins and other processes keep writing, as one self-contained file with no -wal to forget. The file is written beside the target, flushed to disk and moved into place. An existing file is replaced only with --force (the live database never). Put it back with sup-cache restore.",
  options: [["force", "--force", "replace FILE if it exists"]],
  examples: [
    "sup-cache backup /var/backups/sup-cache-$(date +%F).db",
    "sup-cache backup nightly.db --force --json",
  ],
  async run(ctx) {
    const { backupDatabase } = await transfer();
    checkArgs(ctx.command, ctx.args, ["<file>"]);
    const report = await backupDatabase(
      databaseOf(ctx),
      userPath(ctx.args[0]),
      { force: ctx.values.force },
    );
    if (ctx.values.json) return await ctx.out.json(report), 0;
    await ctx.out.line(
      `backed up ${report.database} to ${report.output} (${
        plural(report.bytes, "byte")
      })`,
    );
    return 0;
  },
};

const restoreCommand: Command = {
  name: "restore",
  summary: "replace the database with a backup (refused while in use)",
  usage: "<file>",
  description:
    "Replaces cache.db with a file made by sup-cache backup. Refused while any process has the database open (stop the bot first). The backup is checked on a temporary copy first (it must open as a sup-cache database and pass PRAGMA quick_check); the current database is kept beside it as cache.db.before-restore-<time>; then the backup is copied in with SQLite's online backup API.",
  options: [],
  examples: ["sup-cache restore /var/backups/sup-cache-2026-11-25.db"],
  async run(ctx) {
    const { restoreDatabase } = await transfer();
    checkArgs(ctx.command, ctx.args, ["<file>"]);
    const report = await restoreDatabase(
      userPath(ctx.args[0]),
      databaseOf(ctx),
    );
    if (ctx.values.json) return await ctx.out.json(report), 0;
    await ctx.out.line(
      `restored ${report.database} from ${report.backup}${
        report.previous
          ? `; the database as it was is in ${report.previous}`
          : ""
      }`,
    );
    return 0;
  },
};

/** The transfer commands, in the order `--help` lists them. */
export const TRANSFER_COMMANDS: Command[] = [
  exportCommand,
  importCommand,
  importSupCommand,
  backupCommand,
  restoreCommand,
];
