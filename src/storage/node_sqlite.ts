/**
 * The default SQLite binding: `node:sqlite`, built into Deno. It needs no
 * download and no `--allow-ffi`, so permissions stay scoped to the data
 * directory.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqlDatabase, SqlRow, SqlStatement, SqlValue } from "./driver.ts";

class NodeStatement implements SqlStatement {
  #stmt: StatementSync;
  constructor(stmt: StatementSync) {
    this.#stmt = stmt;
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
    prepare: (sql) => new NodeStatement(db.prepare(sql)),
    close: () => db.close(),
  };
}
