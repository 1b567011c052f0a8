/**
 * Errors of the transfer module (export, import, import-sup, backup,
 * restore). Each extends the library's {@link SupCacheError}, so a caller
 * can branch on the class or on `code`, and each message says what to do.
 *
 * @module
 */
import { SupCacheError } from "../errors.ts";

/**
 * An input file (an export to import, a sup database, a backup) is
 * malformed. The message names the file and, for JSON Lines, the line.
 * Nothing was written.
 *
 * @example
 * ```ts
 * import { InputFormatError } from "./errors.ts";
 * const err = new InputFormatError("backup.jsonl", "line 3: not JSON");
 * console.log(err.file, err.code); // "backup.jsonl" "INPUT_FORMAT"
 * ```
 */
export class InputFormatError extends SupCacheError {
  /** The file that could not be read as expected. */
  readonly file: string;
  /** `message` is prefixed with `file`. */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super("INPUT_FORMAT", `${file}: ${message}`, options);
    this.file = file;
  }
}

/**
 * An output path was refused before anything was written: it is the live
 * database (or one of its side files), another SQLite database, or an
 * existing file and overwriting was not asked for.
 *
 * @example
 * ```ts
 * import { OutputRefusedError } from "./errors.ts";
 * const err = new OutputRefusedError("cache.db", "it is the live database");
 * console.log(err.code, err.path); // "OUTPUT_REFUSED" "cache.db"
 * ```
 */
export class OutputRefusedError extends SupCacheError {
  /** The refused path. */
  readonly path: string;
  /** `reason` says why and what to do instead. */
  constructor(path: string, reason: string) {
    super("OUTPUT_REFUSED", `refusing to write ${path}: ${reason}`);
    this.path = path;
  }
}

/**
 * A namespace asked for by name holds no entries.
 *
 * @example
 * ```ts
 * import { NamespaceNotFoundError } from "./errors.ts";
 * const err = new NamespaceNotFoundError(["weather"], "/tmp/cache.db");
 * console.log(err.code, err.names); // "NOT_FOUND" ["weather"]
 * ```
 */
export class NamespaceNotFoundError extends SupCacheError {
  /** The names that were not found. */
  readonly names: string[];
  /** `where` is the database searched. */
  constructor(names: string[], where: string, kind?: "cache" | "store") {
    super(
      "NOT_FOUND",
      `no ${kind ?? "cache or store"} namespace ${
        names.map((n) => JSON.stringify(n)).join(", ")
      } in ${where}; list them with: sup-cache namespaces`,
    );
    this.names = names;
  }
}

/**
 * A database that must not be in use (the target of a restore) is open in
 * another process or connection.
 *
 * @example
 * ```ts
 * import { DatabaseInUseError } from "./errors.ts";
 * const err = new DatabaseInUseError("/srv/sup/cache.db");
 * console.log(err.code); // "IN_USE"
 * ```
 */
export class DatabaseInUseError extends SupCacheError {
  /** The database file. */
  readonly path: string;
  /** The message says how to free it. */
  constructor(path: string, options?: ErrorOptions) {
    super(
      "IN_USE",
      `${path} is open in another process (a bot, a plugin host or another sup-cache command holds a lock on it); stop that process and try again`,
      options,
    );
    this.path = path;
  }
}

/**
 * There is no database where one must already be (a command that only
 * reads, a backup). Nothing was created.
 *
 * @example
 * ```ts
 * import { DatabaseNotFoundError } from "./errors.ts";
 * const err = new DatabaseNotFoundError("/srv/sup/cache.db", "check the data directory");
 * console.log(err.code); // "NO_DATABASE"
 * ```
 */
export class DatabaseNotFoundError extends SupCacheError {
  /** The database file that is missing. */
  readonly path: string;
  /** `advice` says where to look. */
  constructor(path: string, advice: string) {
    super(
      "NO_DATABASE",
      `there is no sup-cache database at ${path}; ${advice}`,
    );
    this.path = path;
  }
}
