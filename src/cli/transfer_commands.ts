/**
 * The transfer commands: `export` and `import` (JSON Lines, for backups and
 * moves) and `import-sup` (migrating a sup installation). The work is in
 * export.ts, import.ts and import_sup.ts; these parse arguments, show
 * progress and print the report.
 *
 * @module
 */
import { checkArgs } from "./args.ts";
import type { Command } from "./command.ts";
import { openCache } from "./context.ts";
import { InputFormatError, UsageError } from "./errors.ts";
import { exportCache } from "./export.ts";
import { checkExport, fileLines, writeExport } from "./import.ts";
import { checkSupDatabase, importSup } from "./import_sup.ts";
import { formatCount, plural } from "./format.ts";
import { readStdin, writeAll } from "./output.ts";
import { createProgress } from "./progress.ts";
import { renderTable } from "./table.ts";

const exportCommand: Command = {
  name: "export",
  summary: "write live entries as JSON Lines (backup, move)",
  usage: "",
  description:
    "Writes every live entry as JSON Lines: a header line, then one line per entry with kind, namespace, key, value (base64) and expiresAt (ms since the epoch, or null). Expiry is absolute, so an import later keeps the remaining TTL. Output goes to stdout unless --output is given; the summary goes to stderr when the data goes to stdout.",
  options: [
    ["output", "-o, --output FILE", "write to FILE instead of stdout"],
    ["namespace", "--namespace N", "only namespace N (repeatable)"],
    ["kind", "--kind K", "only cache or only store entries"],
  ],
  examples: [
    "sup-cache export --output backup.jsonl",
    "sup-cache export --namespace counter > counter.jsonl",
    "sup-cache export --kind store | gzip > store.jsonl.gz",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, []);
    const kind = ctx.values.kind;
    if (kind !== undefined && kind !== "cache" && kind !== "store") {
      throw new UsageError(
        `--kind must be cache or store, got ${JSON.stringify(kind)}`,
        "export",
      );
    }
    await using cache = await openCache(ctx, { create: false });
    const path = ctx.values.output;
    const file = path === undefined
      ? null
      : await Deno.open(path, { write: true, create: true, truncate: true });
    const sink = file ?? ctx.out.stdout;
    const encoder = new TextEncoder();
    const progress = createProgress("exporting");
    let summary;
    try {
      summary = await exportCache(
        cache,
        (line) => writeAll(sink, encoder.encode(line + "\n")),
        {
          kind,
          namespaces: ctx.values.namespace,
          onProgress: (n, total) => progress.update(n, total),
        },
      );
    } finally {
      progress.end();
      file?.close();
    }
    const report = { ...summary, output: path ?? null };
    // With the data on stdout, the summary must not mix into it.
    const say = path === undefined
      ? (s: string) => ctx.out.note(s)
      : (s: string) => ctx.out.line(s);
    await say(
      ctx.values.json
        ? JSON.stringify(report)
        : `exported ${plural(summary.entries, "entry", "entries")} from ${
          plural(summary.namespaces, "namespace")
        }${path === undefined ? "" : ` to ${path}`}`,
    );
    return 0;
  },
};

function skippedTable(rows: [string, string][]): string {
  return renderTable([{ header: "SKIPPED" }, { header: "REASON" }], rows);
}

const importCommand: Command = {
  name: "import",
  summary: "read entries written by export",
  usage: "<file|->",
  description:
    "Reads an export (use - for stdin) and writes its entries, keeping each remaining TTL. The whole file is checked first: a malformed line stops the import before anything is written. Entries that have expired since the export, and keys that already exist (unless --overwrite), are skipped and listed with the reason.",
  options: [["overwrite", "--overwrite", "replace keys that already exist"]],
  examples: [
    "sup-cache import backup.jsonl",
    "sup-cache export --data-dir old | sup-cache import - --data-dir new",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["<file|->"]);
    const [path] = ctx.args;
    let lines: () => AsyncIterable<string>;
    if (path === "-") {
      // Stdin can be read only once, and the import reads twice (check, then
      // write), so it is held in memory; pass a file for very large imports.
      let all: string[];
      try {
        all = new TextDecoder("utf-8", { fatal: true }).decode(
          await readStdin(),
        ).split("\n");
      } catch (cause) {
        throw new InputFormatError("stdin", "is not UTF-8 text", { cause });
      }
      lines = async function* () {
        yield* all;
      };
    } else {
      await Deno.stat(path);
      lines = () => fileLines(path);
    }
    const name = path === "-" ? "stdin" : path;
    // Checked before the cache is opened, so a bad file creates nothing.
    const total = await checkExport(name, lines());
    await using cache = await openCache(ctx, { create: true });
    const progress = createProgress("importing");
    let report;
    try {
      report = await writeExport(cache, name, lines(), total, {
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
      await ctx.out.line(skippedTable(report.skipped.map((s) => [
        `${s.kind} ${s.namespace} ${s.key} (line ${s.line})`,
        s.reason,
      ])));
    }
    return 0;
  },
};

const importSupCommand: Command = {
  name: "import-sup",
  summary: "migrate a sup cache.db or store.db",
  usage: "<cache.db|store.db>",
  description:
    "Moves the key_values table of a sup installation (github.com/rubiojr/kv) into sup-cache: a key stored as plugin:key becomes key in namespace plugin (split at the first colon), a cache.db fills the cache, a store.db the store, and each remaining TTL is kept. The sup file is opened read-only. Rows that cannot move (expired, no plugin prefix, an unreadable expiry, a key that already exists, a limit) are listed with the reason.",
  options: [
    ["kind", "--kind K", "cache or store, when the file name does not say"],
    ["overwrite", "--overwrite", "replace keys that already exist"],
  ],
  examples: [
    "sup-cache import-sup ~/.local/share/sup/cache.db",
    "sup-cache import-sup ./backup/sup-store.sqlite --kind store --json",
  ],
  async run(ctx) {
    checkArgs(ctx.command, ctx.args, ["<cache.db|store.db>"]);
    const kind = ctx.values.kind;
    if (kind !== undefined && kind !== "cache" && kind !== "store") {
      throw new UsageError(
        `--kind must be cache or store, got ${JSON.stringify(kind)}`,
        "import-sup",
      );
    }
    const [path] = ctx.args;
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
      `${n} ${formatCount(c)}`
    ).join(", ");
    await ctx.out.line(
      `moved ${formatCount(report.moved)} of ${
        formatCount(report.total)
      } ${report.kind} entries${per ? ` (${per})` : ""}, skipped ${
        formatCount(report.skipped.length)
      }`,
    );
    if (report.skipped.length > 0) {
      await ctx.out.line(
        skippedTable(report.skipped.map((s) => [s.key, s.reason])),
      );
    }
    return 0;
  },
};
/** The transfer commands, in the order `--help` lists them. */
export const TRANSFER_COMMANDS: Command[] = [
  exportCommand,
  importCommand,
  importSupCommand,
];
