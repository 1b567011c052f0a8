/**
 * The few SQL calls the storage layer needs from a SQLite binding. Both
 * `node:sqlite` and `jsr:@db/sqlite` are synchronous, so one small adapter per
 * binding lets every backend share the same SQL (and the same tests).
 *
 * @module
 */

/** A value SQLite can bind or return. */
export type SqlValue = string | number | bigint | Uint8Array | null;

/** A row as an object keyed by column name. */
export type SqlRow = Record<string, SqlValue>;

/** A prepared statement. */
export interface SqlStatement {
  /** First row, or `undefined`. */
  get(...params: SqlValue[]): SqlRow | undefined;
  /** All rows. */
  all(...params: SqlValue[]): SqlRow[];
  /** Run for effect; returns the number of rows changed. */
  run(...params: SqlValue[]): number;
  /**
   * First row as an array of column values, or `undefined`. Optional: a
   * binding that builds arrays faster than objects offers it for the
   * hottest reads (node:sqlite: 4.8 against 5.4 µs for a one-column get).
   */
  row?(...params: SqlValue[]): SqlValue[] | undefined;
}

/** An open SQLite connection. */
export interface SqlDatabase {
  /** Run one or more statements without results. */
  exec(sql: string): void;
  /** Compile a statement once for repeated use. */
  prepare(sql: string): SqlStatement;
  /** Close the connection. */
  close(): void;
}
