/**
 * The default SQLite binding: `node:sqlite`, built into Deno. It needs no
 * download and no `--allow-ffi`, so permissions stay scoped to the data
 * directory.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqlDatabase, SqlRow, SqlStatement, SqlValue } from "./driver.ts";

/**
 * A statement that can also return rows as arrays, which `node:sqlite`
 * builds faster than objects (a 100-key page costs about a third less).
 */
export interface ValuesStatement extends SqlStatement {
  /** All rows as arrays of column values, in column order. */
  values(...params: SqlValue[]): SqlValue[][];
}

class NodeStatement implements ValuesStatement {
  #stmt: StatementSync;
  #arrays: StatementSync | undefined;
  #db: DatabaseSync;
  #sql: string;
  constructor(db: DatabaseSync, sql: string) {
    this.#db = db;
    this.#sql = sql;
    this.#stmt = db.prepare(sql);
  }
  #arrayStatement(): StatementSync {
    if (!this.#arrays) {
      this.#arrays = this.#db.prepare(this.#sql);
      // In Deno's node:sqlite, missing from @types/node's StatementSync.
      (this.#arrays as unknown as { setReturnArrays(on: boolean): void })
        .setReturnArrays(true);
    }
    return this.#arrays;
  }
  values(...params: SqlValue[]): SqlValue[][] {
    return this.#arrayStatement().all(...params) as unknown as SqlValue[][];
  }
  row(...params: SqlValue[]): SqlValue[] | undefined {
    return this.#arrayStatement().get(...params) as unknown as
      | SqlValue[]
      | undefined;
  }
  get(...params: SqlValue[]): SqlRow | undefined {
    return this.#stmt.get(...params) as SqlRow | undefined;
  }
  all(...params: SqlValue[]): SqlRow[] {
    return this.#stmt.all(...params) as SqlRow[];
  }
  run(...params: SqlValue[]): number {
    return Number(this.#stmt.run(...params).changes);
  }
}

/** Open `path` (or `":memory:"`) with `node:sqlite`. */
export function openNodeSqlite(path: string): SqlDatabase {
  const db = new DatabaseSync(path);
  return {
    exec: (sql) => db.exec(sql),
    prepare: (sql) => new NodeStatement(db, sql),
    close: () => db.close(),
  };
}
