/**
 * The opt-in FFI binding, `jsr:@db/sqlite`. It is imported lazily, never
 * statically: it needs `--allow-ffi` and a reachable JSR, and neither may be
 * required of users who stay on the default `node:sqlite`.
 *
 * @module
 */
import { DriverUnavailableError } from "../errors.ts";
import type { SqlDatabase, SqlRow, SqlValue } from "./driver.ts";

// A variable keeps `deno check` and `deno publish` from resolving the
// specifier at build time; it is only fetched when someone asks for "ffi".
const FFI_SPECIFIER = "jsr:@db/sqlite@0.12";

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
  Database: new (path: string) => FfiDatabase;
}

/**
 * Open `path` with `jsr:@db/sqlite`, or throw {@link DriverUnavailableError}
 * naming what is missing.
 */
export async function openFfiSqlite(path: string): Promise<SqlDatabase> {
  let mod: FfiModule;
  try {
    mod = await import(FFI_SPECIFIER) as FfiModule;
  } catch (cause) {
    throw new DriverUnavailableError(
      "ffi",
      `driver "ffi" needs ${FFI_SPECIFIER}, which could not be loaded (${
        (cause as Error).message
      }); it must be reachable on JSR and the script must run with --allow-ffi (and --allow-net on first use to download it), or use the default driver "node:sqlite"`,
      { cause },
    );
  }
  let db: FfiDatabase;
  try {
    db = new mod.Database(path);
  } catch (cause) {
    throw new DriverUnavailableError(
      "ffi",
      `driver "ffi" could not open ${path}: ${
        (cause as Error).message
      }; run with --allow-ffi or use the default driver "node:sqlite"`,
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
