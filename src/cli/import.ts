/**
 * Import: read an export (see `export.ts` for the format) back into a cache.
 * The whole input is checked before anything is written, so a truncated or
 * hand-edited file fails with its line number and leaves the cache as it
 * was. Entries then go in one by one through {@link putEntry}: expired ones
 * and existing keys are skipped and reported, with the reason.
 *
 * @module
 */
import type { SupCache } from "../cache/cache.ts";
import { InputFormatError } from "./errors.ts";
import { EXPORT_FORMAT, EXPORT_VERSION } from "./export.ts";
import { type Entry, putEntry } from "./put_entry.ts";

/** An entry that was not imported, and why. */
export interface Skipped {
  /** Line number in the input (1-based). */
  line: number;
  /** `"cache"` or `"store"`. */
  kind: "cache" | "store";
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
export interface ImportOptions {
  /** Replace live entries with the same key (default: skip them). */
  overwrite?: boolean;
  /** Told the running count of entries handled, and the total. */
  onProgress?: (done: number, total: number) => void;
}

const FIELDS = ["kind", "namespace", "key", "value", "expiresAt"];

function fail(file: string, line: number, message: string): never {
  throw new InputFormatError(
    file,
    `line ${line}: ${message}; is this a file written by sup-cache export?`,
  );
}

/**
 * Parse and check one entry line of an export. Throws
 * {@link InputFormatError} naming `file` and `line` when it is malformed.
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
  const extra = Object.keys(obj).filter((k) => !FIELDS.includes(k));
  if (extra.length > 0) {
    fail(file, line, `unknown field ${JSON.stringify(extra[0])}`);
  }
  const { kind, namespace, key, value, expiresAt } = obj;
  if (kind !== "cache" && kind !== "store") {
    fail(file, line, `"kind" must be "cache" or "store"`);
  }
  if (typeof namespace !== "string") {
    fail(file, line, `"namespace" must be a string`);
  }
  if (typeof key !== "string") fail(file, line, `"key" must be a string`);
  if (typeof value !== "string") {
    fail(file, line, `"value" must be a base64 string`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(value);
  } catch {
    fail(file, line, `"value" is not valid base64`);
  }
  if (
    expiresAt !== null &&
    (typeof expiresAt !== "number" || !Number.isSafeInteger(expiresAt))
  ) {
    fail(
      file,
      line,
      `"expiresAt" must be milliseconds since the epoch (a whole number) or null`,
    );
  }
  return { kind, namespace, key, value: bytes, expiresAt };
}

/** Check an export's first line. */
function checkHeader(text: string | undefined, file: string): void {
  let header: Record<string, unknown> | null = null;
  try {
    header = text === undefined ? null : JSON.parse(text);
  } catch {
    // reported below with the rest
  }
  if (header === null || header.format !== EXPORT_FORMAT) {
    throw new InputFormatError(
      file,
      `line 1 is not a sup-cache export header ({"format":"${EXPORT_FORMAT}",...}); make the file with: sup-cache export --output ${file}`,
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

/** Lines of an export with their 1-based numbers, blank lines left out. */
async function* numbered(
  lines: AsyncIterable<string>,
): AsyncGenerator<[number, string]> {
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() !== "") yield [n, line];
  }
}

/**
 * Check every line of an export without writing anything; resolves to the
 * number of entries. Throws {@link InputFormatError} at the first bad line.
 *
 * @example
 * ```ts
 * import { checkExport } from "./import.ts";
 * const lines = async function* () {
 *   yield '{"format":"sup-cache-export","version":1,"exportedAt":0}';
 *   yield '{"kind":"cache","namespace":"n","key":"k","value":"","expiresAt":null}';
 * };
 * console.log(await checkExport("backup.jsonl", lines())); // 1
 * ```
 */
export async function checkExport(
  file: string,
  lines: AsyncIterable<string>,
): Promise<number> {
  let total = 0;
  let first = true;
  for await (const [n, text] of numbered(lines)) {
    if (first) checkHeader(text, file);
    else {
      parseEntryLine(text, file, n);
      total++;
    }
    first = false;
  }
  if (first) checkHeader(undefined, file);
  return total;
}

/**
 * Write the entries of an export that {@link checkExport} accepted (pass its
 * `total` for progress). Expired entries and existing keys are skipped and
 * reported.
 */
export async function writeExport(
  cache: SupCache,
  file: string,
  lines: AsyncIterable<string>,
  total: number,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const report: ImportReport = { imported: 0, skipped: [] };
  let done = 0;
  let header = true;
  for await (const [n, text] of numbered(lines)) {
    if (header) {
      header = false;
      continue;
    }
    const entry = parseEntryLine(text, file, n);
    const reason = await putEntry(cache, entry, options);
    if (reason === null) report.imported++;
    else {
      report.skipped.push({
        line: n,
        kind: entry.kind,
        namespace: entry.namespace,
        key: entry.key,
        reason,
      });
    }
    options.onProgress?.(++done, total);
  }
  return report;
}

/**
 * Import an export into `cache`: {@link checkExport}, then
 * {@link writeExport}. `lines` is called once for each, so nothing is
 * written from a malformed file.
 *
 * @example
 * ```ts
 * import { createSupCache } from "../../mod.ts";
 * import { importExport } from "./import.ts";
 * await using cache = await createSupCache({ path: ":memory:" });
 * const text = [
 *   '{"format":"sup-cache-export","version":1,"exportedAt":0}',
 *   '{"kind":"store","namespace":"settings","key":"lang","value":"ZW4=","expiresAt":null}',
 * ];
 * const lines = async function* () { yield* text; };
 * const report = await importExport(cache, "backup.jsonl", lines);
 * console.log(report.imported, report.skipped.length); // 1 0
 * ```
 */
export async function importExport(
  cache: SupCache,
  file: string,
  lines: () => AsyncIterable<string>,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const total = await checkExport(file, lines());
  return await writeExport(cache, file, lines(), total, options);
}

/**
 * The lines of a UTF-8 text file, read as a stream so a large export is
 * never held in memory at once. Invalid UTF-8 is an error, not replaced.
 */
export async function* fileLines(path: string): AsyncGenerator<string> {
  // The stream closes the file when it ends or the reader stops early.
  const file = await Deno.open(path);
  let rest = "";
  try {
    for await (
      const chunk of file.readable.pipeThrough(
        new TextDecoderStream("utf-8", { fatal: true }),
      )
    ) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      yield* parts;
    }
  } catch (err) {
    if (err instanceof TypeError) {
      throw new InputFormatError(path, "is not UTF-8 text", { cause: err });
    }
    throw err;
  }
  yield rest;
}
