/**
 * Import: read an export (see `export.ts` for the format) back into a cache.
 * The whole input is checked before anything is written, so a truncated or
 * hand-edited file fails with its line number and leaves the cache as it
 * was. Entries then go in by batches of one namespace, one transaction each
 * ({@link EntryWriter}); expired entries and existing keys are skipped and
 * reported, with the reason.
 *
 * Input is read as a stream of bytes and split into lines in linear time,
 * so a file of any size, or one very long line, costs time in proportion to
 * its length. The entries parsed while checking are kept for the write
 * when they are small (up to {@link DEFAULT_KEEP_BYTES} of lines), so they
 * are parsed once; a larger regular file is streamed twice (check, then
 * write) and never held in memory. A pipe, a process substitution
 * (`<(...)`) or a device can be read only once, so {@link openSource} holds
 * it in memory.
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import { InputFormatError } from "./errors.ts";
import { EXPORT_FORMAT, EXPORT_VERSION } from "./export.ts";
import { splitLines } from "./lines.ts";
import { isExpiryInRange } from "./time.ts";
import { type Entry, EntryWriter, type WriteOptions } from "./write.ts";
import type { Keyspace } from "../cache/types.ts";

/** Bytes of an input, readable as many times as it is called. */
export type ByteSource = () =>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>;

/** An entry that was not imported, and why. */
export interface Skipped {
  /** Line number in the input (1-based). */
  line: number;
  /** `"cache"` or `"store"`. */
  kind: Keyspace;
  /** The namespace. */
  namespace: string;
  /** The key. */
  key: string;
  /** Why it was skipped. */
  reason: string;
}

/** What an import did. */
export interface ImportReport {
  /** Entries written. */
  imported: number;
  /** Entries left out, with reasons. */
  skipped: Skipped[];
}

/** How to import. */
export interface ImportOptions extends WriteOptions {
  /** Told the running count of entries handled, and the total. */
  onProgress?: (done: number, total: number) => void;
}

function fail(file: string, line: number, message: string): never {
  throw new InputFormatError(
    file,
    `line ${line}: ${message}; is this a file written by sup-cache export?`,
  );
}

/** Size of the blocks an import decodes values into. */
const POOL_BYTES = 1_048_576;

/** Why `s` cannot be a key or namespace name whatever the limits, or `null`. */
function badName(s: string): string | null {
  if (s === "") return "is empty";
  if (!s.isWellFormed()) return "contains a lone UTF-16 surrogate";
  if (s.includes("\0")) return "contains a NUL character";
  return null;
}

/**
 * Parses and checks entry lines one after another: the one pass over an
 * export's lines (everything is checked here, so the write needs no second
 * look). Lines of one namespace follow each other in an export, so the
 * last namespace found valid is remembered instead of checked again.
 */
class EntryParser {
  readonly #file: string;
  readonly #pooled: boolean;
  /** The last namespace found valid (`null`: none yet; "" is not valid). */
  #namespace: string | null = null;
  // Values are decoded into shared blocks (setFromBase64) and handed out
  // as views: one allocation per POOL_BYTES instead of one per entry,
  // which for small values cost more than the decoding itself.
  #pool = new Uint8Array(0);
  #used = 0;

  /** `pooled`: decode values into shared blocks (for many lines). */
  constructor(file: string, pooled: boolean) {
    this.#file = file;
    this.#pooled = pooled;
  }

  #decode(value: string): Uint8Array {
    if (!this.#pooled) return Uint8Array.fromBase64(value);
    // At most 3 bytes per 4 characters.
    const most = Math.ceil(value.length / 4) * 3;
    if (this.#pool.length - this.#used < most) {
      this.#pool = new Uint8Array(Math.max(POOL_BYTES, most));
      this.#used = 0;
    }
    const at = this.#used;
    const { read, written } = this.#pool.subarray(at).setFromBase64(value);
    if (read !== value.length) throw new SyntaxError("not base64");
    this.#used = at + written;
    return this.#pool.subarray(at, at + written);
  }

  parse(text: string, line: number): Entry {
    const file = this.#file;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      fail(file, line, "not valid JSON");
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      fail(file, line, "not a JSON object");
    }
    const obj = raw as Record<string, unknown>;
    const { kind, namespace, key, value, expiresAt } = obj;
    // Five fields, all five of ours, or a look at each name (Object.keys
    // of a parsed object is cheap; a loop over its names is not).
    if (
      Object.keys(obj).length !== 5 || kind === undefined ||
      namespace === undefined || key === undefined || value === undefined ||
      expiresAt === undefined
    ) {
      for (const k in obj) {
        if (
          k !== "kind" && k !== "namespace" && k !== "key" && k !== "value" &&
          k !== "expiresAt"
        ) fail(file, line, `unknown field ${JSON.stringify(k)}`);
      }
    }
    if (kind !== "cache" && kind !== "store") {
      fail(file, line, `"kind" must be "cache" or "store"`);
    }
    if (typeof namespace !== "string") {
      fail(file, line, `"namespace" must be a string`);
    }
    if (typeof key !== "string") fail(file, line, `"key" must be a string`);
    if (namespace !== this.#namespace) {
      const badNs = badName(namespace);
      if (badNs) fail(file, line, `"namespace" ${badNs}`);
      this.#namespace = namespace;
    }
    const badKey = badName(key);
    if (badKey) fail(file, line, `"key" ${badKey}`);
    if (typeof value !== "string") {
      fail(file, line, `"value" must be a base64 string`);
    }
    let bytes: Uint8Array;
    try {
      bytes = this.#decode(value);
    } catch {
      fail(file, line, `"value" is not valid base64`);
    }
    if (
      expiresAt !== null &&
      (typeof expiresAt !== "number" || !isExpiryInRange(expiresAt))
    ) {
      fail(
        file,
        line,
        `"expiresAt" must be null or a whole number of milliseconds since the epoch from 0 to 8,640,000,000,000,000 (the range of a JavaScript Date), got ${
          JSON.stringify(expiresAt)
        }`,
      );
    }
    return { kind, namespace, key, value: bytes, expiresAt };
  }
}

/**
 * Parse and check one entry line of an export. Throws
 * {@link InputFormatError} naming `file` and `line` when it is malformed,
 * including an `expiresAt` outside what a JavaScript `Date` holds.
 *
 * @example
 * ```ts
 * import { parseEntryLine } from "./import.ts";
 * const entry = parseEntryLine('{"kind":"cache","namespace":"n","key":"k","value":"aGk=","expiresAt":null}', "backup.jsonl", 2);
 * console.log(new TextDecoder().decode(entry.value)); // "hi"
 * ```
 */
export function parseEntryLine(
  text: string,
  file: string,
  line: number,
): Entry {
  return new EntryParser(file, false).parse(text, line);
}

/** Check an export's first line. */
function checkHeader(text: string | undefined, file: string): void {
  let header: Record<string, unknown> | null = null;
  try {
    header = text === undefined ? null : JSON.parse(text);
  } catch {
    // reported below with the rest
  }
  if (
    typeof header !== "object" || header === null ||
    header.format !== EXPORT_FORMAT
  ) {
    throw new InputFormatError(
      file,
      text === undefined
        ? `is empty: an export starts with a header line ({"format":"${EXPORT_FORMAT}",...}). If you passed a pipe or <(...), check the command that feeds it`
        : `line 1 is not a sup-cache export header ({"format":"${EXPORT_FORMAT}",...}); make the file with: sup-cache export --output FILE`,
    );
  }
  if (header.version !== EXPORT_VERSION) {
    throw new InputFormatError(
      file,
      `export format version ${
        JSON.stringify(header.version)
      } is not supported (this sup-cache reads version ${EXPORT_VERSION}); import it with the sup-cache that wrote it, or a newer one`,
    );
  }
}

/** Whether a line holds nothing but whitespace (skipped, as an empty one). */
function isBlank(text: string): boolean {
  // An entry line starts with "{": no regular expression for it.
  return text.charCodeAt(0) !== 0x7b && !/\S/.test(text);
}

/**
 * The entry lines of an export, parsed and checked, a chunk's worth at a
 * time; the header line is checked and left out, blank lines too.
 */
async function* parsedChunks(
  file: string,
  source: ByteSource,
): AsyncGenerator<{ entries: Entry[]; lines: number[]; bytes: number }> {
  const parser = new EntryParser(file, true);
  let header = true;
  for await (const chunk of splitLines(source(), file)) {
    const entries: Entry[] = [];
    const lines: number[] = [];
    let bytes = 0;
    for (let i = 0; i < chunk.length; i++) {
      const { n, text } = chunk[i];
      if (isBlank(text)) continue;
      if (header) {
        checkHeader(text, file);
        header = false;
        continue;
      }
      entries.push(parser.parse(text, n));
      lines.push(n);
      bytes += text.length;
    }
    if (entries.length > 0) yield { entries, lines, bytes };
  }
  if (header) checkHeader(undefined, file);
}

/** What {@link checkExport} found. */
export interface CheckedExport {
  /** Entries in the export. */
  total: number;
  /**
   * The parsed entries, kept when their lines add up to at most
   * `keepBytes`, so the write needs no second read; `null` when they did
   * not fit (the write then reads the source again).
   */
  entries: Entry[] | null;
  /** The line number of each kept entry (`null` with `entries`). */
  lines: number[] | null;
}

/** Line bytes of parsed entries {@link importExport} keeps between check and write. */
export const DEFAULT_KEEP_BYTES = 64 * 1_048_576;

/**
 * Check every line of an export without writing anything. Throws
 * {@link InputFormatError} at the first bad line. Keeps the parsed entries
 * while their lines add up to at most `keepBytes` (default 0: none).
 *
 * @example
 * ```ts
 * import { checkExport } from "./import.ts";
 * const text = '{"format":"sup-cache-export","version":1,"exportedAt":0}\n' +
 *   '{"kind":"cache","namespace":"n","key":"k","value":"","expiresAt":null}\n';
 * const checked = await checkExport("backup.jsonl", () => [new TextEncoder().encode(text)]);
 * console.log(checked.total, checked.entries); // 1 null
 * ```
 */
export async function checkExport(
  file: string,
  source: ByteSource,
  keepBytes = 0,
): Promise<CheckedExport> {
  let total = 0;
  let entries: Entry[] | null = keepBytes > 0 ? [] : null;
  let lines: number[] | null = keepBytes > 0 ? [] : null;
  let keptBytes = 0;
  for await (const chunk of parsedChunks(file, source)) {
    total += chunk.entries.length;
    if (entries === null) continue;
    keptBytes += chunk.bytes;
    if (keptBytes > keepBytes) entries = lines = null;
    else if (entries.length === 0) {
      // Most inputs come as one chunk (a file read whole, a pipe).
      entries = chunk.entries;
      lines = chunk.lines;
    } else {
      for (const e of chunk.entries) entries.push(e);
      for (const n of chunk.lines) lines!.push(n);
    }
  }
  return { total, entries, lines };
}

/**
 * Write the entries of an export that {@link checkExport} accepted.
 * Expired entries and existing keys are skipped and reported.
 */
export async function writeExport(
  cache: SupCache,
  file: string,
  source: ByteSource,
  checked: CheckedExport,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const { total } = checked;
  const report: ImportReport = { imported: 0, skipped: [] };
  let done = 0;
  const progress = options.onProgress;
  const writer = new EntryWriter<number>(
    cache,
    options,
    (entry, reason, line) => {
      report.skipped.push({
        line,
        kind: entry.kind,
        namespace: entry.namespace,
        key: entry.key,
        reason,
      });
      progress?.(++done, total);
    },
    () => {
      report.imported++;
      progress?.(++done, total);
    },
  );
  if (checked.entries !== null) {
    await writer.addAll(checked.entries, checked.lines!);
  } else {
    for await (const chunk of parsedChunks(file, source)) {
      await writer.addAll(chunk.entries, chunk.lines);
    }
  }
  await writer.flush();
  report.skipped.sort((a, b) => a.line - b.line);
  return report;
}

/**
 * Import an export into `cache`: {@link checkExport}, then
 * {@link writeExport}, so nothing is written from a malformed file. Up to
 * {@link DEFAULT_KEEP_BYTES} of entries are kept parsed in between; a larger
 * `source` is read twice.
 *
 * @example
 * ```ts
 * import { createSupCache } from "@sup/cache";
 * import { importExport } from "./import.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const text = [
 *   '{"format":"sup-cache-export","version":1,"exportedAt":0}',
 *   '{"kind":"store","namespace":"settings","key":"lang","value":"ZW4=","expiresAt":null}',
 * ].join("\n");
 * const bytes = new TextEncoder().encode(text);
 * const report = await importExport(cache, "backup.jsonl", () => [bytes]);
 * console.log(report.imported, report.skipped.length); // 1 0
 * ```
 */
export async function importExport(
  cache: SupCache,
  file: string,
  source: ByteSource,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const checked = await checkExport(file, source, DEFAULT_KEEP_BYTES);
  return await writeExport(cache, file, source, checked, options);
}

/**
 * A {@link ByteSource} for `path`. A regular file is streamed on each read,
 * never held in memory. Anything else (a pipe, `/dev/stdin`, a process
 * substitution like `<(zcat backup.jsonl.gz)`) can be read only once, so it
 * is read now, whole, into memory.
 *
 * @example
 * ```ts
 * import { openSource } from "./import.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/x.jsonl`, "hello\n");
 * const source = await openSource(`${dir}/x.jsonl`);
 * let bytes = 0;
 * for await (const chunk of source()) bytes += chunk.length;
 * console.log(bytes); // 6
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openSource(path: string): Promise<ByteSource> {
  const info = await Deno.stat(path);
  if (info.isDirectory) {
    throw new InputFormatError(path, "is a directory; name an export file");
  }
  if (info.isFile) {
    return async function* () {
      // The stream closes the file at its end, or when the reader stops early.
      const file = await Deno.open(path);
      yield* file.readable;
    };
  }
  const bytes = await Deno.readFile(path);
  return () => [bytes];
}

/** A {@link ByteSource} over bytes already read (stdin, say). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return () => [bytes];
}
