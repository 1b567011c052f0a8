/**
 * The opt-in FFI binding, `jsr:@db/sqlite`. It is imported lazily, never
 * statically: it needs `--allow-ffi` and a reachable JSR (or an import map
 * pointing at an offline copy), and neither may be required of users who
 * stay on the default `node:sqlite`.
 *
 * Permissions, checked before anything is imported so that a missing one
 * is named at the top of the error instead of two `cause`s down:
 *
 * - `--allow-ffi`, unscoped: `@db/sqlite` uses pointer APIs, which a
 *   scoped `--allow-ffi=<library>` does not allow. It lets native code do
 *   anything the process's user can, whatever the other flags say.
 * - `--allow-env=DENO_SQLITE_PATH,DENO_SQLITE_LOCAL`: `@db/sqlite` reads
 *   both to find the library, and fails on an unreadable one.
 * - read permission on the module files when the import map sends
 *   `jsr:@db/sqlite` to a local copy (a dynamic import of a `file:` URL).
 *
 * @module
 */
import { DriverUnavailableError } from "../errors.ts";
import type { SqlDatabase, SqlRow, SqlValue } from "./driver.ts";

/**
 * The binding's specifier. A variable keeps `deno check` and `deno publish`
 * from resolving it at build time; it is only fetched when someone asks for
 * `driver: "ffi"`.
 *
 * @example
 * ```ts
 * import { FFI_SPECIFIER } from "./ffi_sqlite.ts";
 * console.log(FFI_SPECIFIER); // jsr:@db/sqlite@0.13
 * ```
 */
export const FFI_SPECIFIER = "jsr:@db/sqlite@0.13";

/** The environment variables `@db/sqlite` reads when it loads. */
const ENV_VARS = ["DENO_SQLITE_PATH", "DENO_SQLITE_LOCAL"] as const;

interface FfiStatement {
  get(...params: SqlValue[]): SqlRow | undefined;
  all(...params: SqlValue[]): SqlRow[];
  run(...params: SqlValue[]): number;
}
interface FfiDatabase {
  exec(sql: string): number;
  prepare(sql: string): FfiStatement;
  close(): void;
}
interface FfiModule {
  Database: new (
    path: string,
    options: { int64: boolean; parseJson: boolean },
  ) => FfiDatabase;
}

const FALLBACK = 'or use the default driver "node:sqlite"';

/**
 * The flags this process lacks for the FFI driver, as they should be typed
 * (empty when everything is granted).
 *
 * @example
 * ```ts
 * import { missingFfiFlags } from "./ffi_sqlite.ts";
 * const missing = missingFfiFlags();
 * if (missing.length > 0) console.log(`the ffi driver needs ${missing.join(" ")}`);
 * ```
 */
export function missingFfiFlags(): string[] {
  const missing: string[] = [];
  const granted = (d: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(d).state === "granted";
  // Without a path, "granted" means unscoped: the only form that works.
  if (!granted({ name: "ffi" })) missing.push("--allow-ffi");
  if (!ENV_VARS.every((variable) => granted({ name: "env", variable }))) {
    missing.push(`--allow-env=${ENV_VARS.join(",")}`);
  }
  return missing;
}

/** The first `NotCapable` in a cause chain: the permission that was missing. */
function notCapable(err: unknown): Error | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; depth++) {
    if (
      e instanceof Deno.errors.NotCapable ||
      /^Requires \w+ access/.test(e.message)
    ) return e;
    e = e.cause;
  }
  return null;
}

/** Every message of a cause chain, joined, for the one-line summary. */
function chain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 8; depth++) {
    parts.push(e.message.split("\n")[0]);
    e = e.cause;
  }
  return parts.join(": ");
}

/**
 * Open `path` with `jsr:@db/sqlite` (with `int64: true`, so INTEGER columns
 * such as millisecond timestamps are read whole, not modulo 2^32), or throw
 * {@link DriverUnavailableError} whose message names what is missing.
 */
export async function openFfiSqlite(path: string): Promise<SqlDatabase> {
  const missing = missingFfiFlags();
  if (missing.length > 0) {
    throw new DriverUnavailableError(
      "ffi",
      `driver "ffi" needs ${missing.join(" and ")}: run with ${
        missing.join(" ")
      } (--allow-ffi cannot be scoped to the library, and it lets native code bypass every other permission; see docs/drivers.md), ${FALLBACK}`,
    );
  }
  let mod: FfiModule;
  try {
    mod = await import(FFI_SPECIFIER) as FfiModule;
  } catch (cause) {
    throw new DriverUnavailableError("ffi", importFailure(cause), { cause });
  }
  let db: FfiDatabase;
  try {
    db = new mod.Database(path, { int64: true, parseJson: false });
  } catch (cause) {
    const denied = notCapable(cause);
    throw new DriverUnavailableError(
      "ffi",
      denied
        ? `driver "ffi" could not open ${path}: ${denied.message}, ${FALLBACK}`
        : `driver "ffi" could not open ${path}: ${chain(cause)}`,
      { cause },
    );
  }
  return {
    exec: (sql) => void db.exec(sql),
    prepare: (sql) => {
      const stmt = db.prepare(sql);
      return {
        get: (...p) => stmt.get(...p),
        all: (...p) => stmt.all(...p),
        run: (...p) => stmt.run(...p),
      };
    },
    close: () => db.close(),
  };
}

/** Say why the import failed, naming the flag or the setting to change. */
function importFailure(cause: unknown): string {
  const text = chain(cause);
  const denied = notCapable(cause);
  const access = denied && /^Requires (\w+) access to "([^"]+)"/.exec(
    denied.message,
  );
  const library =
    "set DENO_SQLITE_PATH to a libsqlite3 shared library (Debian: apt-get install libsqlite3-0, then DENO_SQLITE_PATH=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0)";
  if (access?.[1] === "read") {
    // The import map sends the package to a local copy the process may not read.
    return `driver "ffi" cannot import ${FFI_SPECIFIER}: ${
      denied!.message.split("\n")[0]
    } (grant --allow-read on the folder of ${access[2]}), ${FALLBACK}`;
  }
  if (access?.[1] === "net" && !/jsr\.io/.test(access[2])) {
    // Without DENO_SQLITE_PATH, @db/sqlite downloads a prebuilt library.
    return `driver "ffi" could not load the SQLite library: @db/sqlite tried to download one (${
      denied!.message.split("\n")[0]
    }); ${library}, ${FALLBACK}`;
  }
  if (/SQLite3 Dynamic Library|Could not open library/i.test(text)) {
    return `driver "ffi" could not load the SQLite library (${text}); ${library}, ${FALLBACK}`;
  }
  return `driver "ffi" needs ${FFI_SPECIFIER}, which could not be imported (${text}); JSR must be reachable (run with --allow-net the first time) or an import map must point it at a local copy (see docs/drivers.md), ${FALLBACK}`;
}
