/**
 * What the cache benchmarks share: the subjects (our cache, a minimal
 * SQLite schema, Deno KV) filled with the same random keys, the operations
 * measured on each, and a guard that refuses a bench which returns a
 * Promise without being declared `async` (Deno.bench awaits only functions
 * declared `async`; a plain arrow returning a Promise is timed as if it
 * finished at once).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { createSupCache, type Namespace, type SupCache } from "../mod.ts";
import { encodeCursor } from "../src/cache/paging.ts";
import { connectionPragmas } from "../src/storage/schema.ts";

/** One measured operation: sync, or declared `async`. */
export type Op = () => unknown;

const AsyncFunction = (async () => {}).constructor;

/** Whether `fn` was declared `async` (so Deno.bench and our runner await it). */
export function isAsync(fn: Op): boolean {
  return fn instanceof AsyncFunction;
}

/**
 * Wrap `fn` so that calling it throws when it returns a Promise without
 * being declared `async`: such a bench would time only the start of the
 * work, which is how an earlier Deno KV comparison went wrong.
 */
export function guarded(name: string, fn: Op): Op {
  if (isAsync(fn)) return fn;
  return () => {
    const out = fn();
    if (
      out !== null && typeof out === "object" &&
      typeof (out as PromiseLike<unknown>).then === "function"
    ) {
      throw new Error(
        `bench "${name}" returned a Promise but is not declared async, so it would not be awaited; write it as async () => { await ... }`,
      );
    }
    return out;
  };
}

/** Register a Deno.bench through {@link guarded}. */
export function bench(
  name: string,
  group: string,
  baseline: boolean,
  fn: Op,
): void {
  const run = guarded(name, fn);
  Deno.bench({
    name,
    group,
    baseline,
    fn: isAsync(fn) ? (fn as () => Promise<void>) : () => void run(),
  });
}

/** 32-bit mix, so keys land at random places in the B-tree. */
function mix(i: number): number {
  let x = (i + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The i-th key: random-looking, fixed-width, unique. */
export function keyOf(i: number): string {
  return `key:${mix(i).toString(16).padStart(8, "0")}:${i}`;
}

/** A typical small cached value (40 bytes). */
export const VALUE = new TextEncoder().encode(
  "a cached value of a typical size, 40 B.",
);

/** One hour, the default TTL, used by every subject. */
export const TTL = 3_600_000;

const NS = "bench";

/** The minimal schema the issue names, with the same pragmas as ours. */
export const MINIMAL_SCHEMA = `CREATE TABLE kv (
  ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires_at INTEGER,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID`;

/**
 * `n` export lines of the import benches (no header): random 16-hex-digit
 * keys in namespace "bench", one random 100-byte value, an expiry an hour
 * from now.
 */
export function exportEntryLines(n: number): string[] {
  const value = crypto.getRandomValues(new Uint8Array(100)).toBase64();
  const expiresAt = Date.now() + 3_600_000;
  return Array.from({ length: n }, () =>
    JSON.stringify({
      kind: "cache",
      namespace: "bench",
      key: crypto.getRandomValues(new Uint8Array(8)).toHex(),
      value,
      expiresAt,
    }));
}

/**
 * The import baseline: a file of the minimal schema with WAL and
 * `synchronous=NORMAL`, as ours.
 */
export function openRawImportDb(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec(MINIMAL_SCHEMA);
  return db;
}

/**
 * The import baseline's work: parse an export's lines (after its header)
 * and insert them raw, in one transaction; parsing is included, as
 * `import` parses too.
 */
export function rawImport(db: DatabaseSync, text: string): void {
  const insert = db.prepare("INSERT INTO kv VALUES (?, ?, ?, ?)");
  const lines = text.split("\n");
  db.exec("BEGIN");
  for (let i = 1; i < lines.length; i++) {
    const e = JSON.parse(lines[i]);
    insert.run(
      e.namespace,
      e.key,
      Uint8Array.fromBase64(e.value),
      e.expiresAt,
    );
  }
  db.exec("COMMIT");
}

/** The minimal schema's statements. */
export class Minimal {
  readonly db: DatabaseSync;
  readonly path: string;
  readonly #get: StatementSync;
  readonly #set: StatementSync;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #increment: StatementSync;
  readonly #list: StatementSync;

  constructor(path: string, durability: "normal" | "full") {
    this.path = path;
    this.db = new DatabaseSync(path);
    this.db.exec(connectionPragmas(durability));
    this.db.exec(
      `${MINIMAL_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")}`,
    );
    this.#get = this.db.prepare(
      "SELECT value FROM kv WHERE ns = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)",
    );
    this.#set = this.db.prepare(
      `INSERT INTO kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    );
    this.#insert = this.db.prepare(
      "INSERT INTO kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?)",
    );
    this.#delete = this.db.prepare("DELETE FROM kv WHERE ns = ? AND key = ?");
    this.#increment = this.db.prepare(
      `INSERT INTO kv (ns, key, value, expires_at) VALUES (?1, ?2, CAST('1' AS BLOB), ?3)
       ON CONFLICT (ns, key) DO UPDATE SET
         value = CAST(CAST(CAST(CAST(value AS TEXT) AS INTEGER) + 1 AS TEXT) AS BLOB)
       RETURNING value`,
    );
    this.#list = this.db.prepare(
      `SELECT key FROM kv WHERE ns = ? AND key > ? AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY key LIMIT 100`,
    );
  }

  get(key: string): unknown {
    return this.#get.get(NS, key, Date.now());
  }
  set(key: string): void {
    this.#set.run(NS, key, VALUE, Date.now() + TTL);
  }
  delete(key: string): void {
    this.#delete.run(NS, key);
  }
  increment(key: string): void {
    this.#increment.get(NS, key, Date.now() + TTL);
  }
  list(after: string): unknown {
    return this.#list.all(NS, after, Date.now());
  }
  /** Raw inserts in one transaction: the bulk baseline. */
  insertMany(keys: string[]): void {
    this.db.exec("BEGIN IMMEDIATE");
    const at = Date.now() + TTL;
    for (const k of keys) this.#insert.run(NS, k, VALUE, at);
    this.db.exec("COMMIT");
  }
  close(): void {
    this.db.close();
  }
}

/** Everything one size tier measures. */
export interface Subjects {
  n: number;
  minimal: Minimal;
  cache: SupCache;
  /** The same file opened with `durability: "full"`. */
  cacheFull: SupCache;
  ns: Namespace;
  nsFull: Namespace;
  kv: Deno.Kv | null;
  /** Bytes per key of each file after a checkpoint. */
  bytesPerKey: { minimal: number; ours: number };
  /** The two SQLite files, for {@link WalFiles}. */
  wal: WalFiles;
  close(): Promise<void>;
}

/**
 * WAL checkpoints of the files a tier writes. SQLite checkpoints a file's
 * WAL in the commit that takes it past 1,000 pages, so whichever case
 * commits then pays for pages that other cases wrote; our file takes more
 * writing cases than the minimal one (`set` through the Promise API has no
 * minimal twin), so it crosses the mark more often. With
 * {@link WalFiles.own}, every case starts on an empty WAL (an untimed
 * checkpoint of both files) and ends with a timed checkpoint of both:
 * each case pays for copying exactly the pages it wrote back into its
 * file, no more and no less, on both sides alike.
 */
export class WalFiles {
  readonly #dbs: { name: string; db: DatabaseSync; path: string }[];
  /** Checkpoints that landed in each case, per file (SUP_BENCH_WAL_LOG). */
  readonly seen = new Map<string, Map<string, number>>();

  constructor(files: { name: string; db: DatabaseSync; path: string }[]) {
    this.#dbs = files;
  }

  /**
   * Untimed: checkpoint every WAL and have its next writer start it again
   * from the top (RESTART; not TRUNCATE, which would make every case pay
   * for growing the file again).
   */
  reset(): void {
    for (const f of this.#dbs) f.db.exec("PRAGMA wal_checkpoint(RESTART)");
  }

  /** Timed: copy what the case wrote into the file (a no-op when nothing). */
  settle(): void {
    for (const f of this.#dbs) f.db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /**
   * Each file's checkpoint state from its wal-index header (`-shm`):
   * the WAL's salt (new after a reset) and frames backfilled so far.
   */
  state(): string[] {
    return this.#dbs.map((f) => {
      try {
        const h = Deno.readFileSync(`${f.path}-shm`).subarray(0, 136);
        const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
        return `${v.getUint32(32, true)}:${v.getUint32(96, true)}`;
      } catch {
        return "";
      }
    });
  }

  /** Count a checkpoint in `caseName` for each file whose state moved. */
  count(caseName: string, before: string[], after: string[]): void {
    this.#dbs.forEach((f, i) => {
      if (before[i] === after[i]) return;
      let m = this.seen.get(caseName);
      if (!m) this.seen.set(caseName, m = new Map());
      m.set(f.name, (m.get(f.name) ?? 0) + 1);
    });
  }

  /** Close the connections this class was given for our files. */
  close(): void {
    for (const f of this.#dbs) if (f.name !== "minimal") f.db.close();
  }
}

function fileBytes(db: DatabaseSync, path: string): number {
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return Deno.statSync(path).size;
}

/** Fill a minimal file, our cache and (optionally) Deno KV with `n` keys. */
export async function makeSubjects(
  root: string,
  n: number,
  withKv: boolean,
): Promise<Subjects> {
  const dir = join(root, `n${n}`);
  Deno.mkdirSync(dir, { recursive: true });
  const minimal = new Minimal(join(dir, "minimal.db"), "normal");
  const cache = await createSupCache({
    dataDir: join(dir, "ours"),
    sweepIntervalMs: 0,
  });
  const ns = cache.namespace(NS);
  const chunk = 10_000;
  for (let i = 0; i < n; i += chunk) {
    const keys = Array.from(
      { length: Math.min(chunk, n - i) },
      (_, j) => keyOf(i + j),
    );
    minimal.insertMany(keys);
    ns.sync.setMany(keys.map((k) => [k, VALUE] as const));
  }
  const ours = new DatabaseSync(cache.path);
  const bytesPerKey = {
    minimal: fileBytes(minimal.db, minimal.path) / n,
    ours: fileBytes(ours, cache.path) / n,
  };
  const wal = new WalFiles([
    { name: "minimal", db: minimal.db, path: minimal.path },
    { name: "ours", db: ours, path: cache.path },
  ]);
  const cacheFull = await createSupCache({
    path: cache.path,
    durability: "full",
    sweepIntervalMs: 0,
  });
  let kv: Deno.Kv | null = null;
  if (withKv) {
    kv = await Deno.openKv(join(dir, "kv.sqlite"));
    for (let i = 0; i < n;) {
      const op = kv.atomic();
      for (const end = Math.min(n, i + 1000); i < end; i++) {
        op.set([NS, keyOf(i)], VALUE, { expireIn: TTL });
      }
      await op.commit();
    }
  }
  return {
    n,
    minimal,
    cache,
    cacheFull,
    ns,
    nsFull: cacheFull.namespace(NS),
    kv,
    bytesPerKey,
    wal,
    async close() {
      wal.close();
      minimal.close();
      await cacheFull.close();
      await cache.close();
      kv?.close();
    },
  };
}

/** A measured case: `ops` calls of `fn`, with untimed `setup` before each round. */
export interface Case {
  name: string;
  fn: Op;
  /** Run before each round, not timed (refills delete pools). */
  setup?: () => void | Promise<void>;
  /** Calls per round. */
  ops: number;
}

/** The cases of one size tier; `pair` names which case each is compared with. */
export function cases(
  s: Subjects,
): { cases: Case[]; pairs: [string, string, string][] } {
  const { n, minimal, ns, nsFull, kv } = s;
  const rnd = () => keyOf(Math.floor(Math.random() * n));
  const missing = () => `missing:${Math.floor(Math.random() * 1e9)}`;
  const counters = () => `counter:${Math.floor(Math.random() * 1000)}`;
  let fresh = 0;
  const newKey = () => `new:${mix(fresh).toString(16)}:${fresh++}`;
  // Delete pools: keys inserted (untimed) before each round, deleted in it.
  const ops = 1000;
  const pool = (prefix: string) => {
    let keys: string[] = [];
    let next = 0;
    return {
      fill(write: (keys: string[]) => void) {
        keys = Array.from({ length: ops }, () => `${prefix}${newKey()}`);
        // Delete in an order unrelated to insertion.
        keys.sort(() => Math.random() - 0.5);
        write(keys);
        next = 0;
      },
      take: () => keys[next++],
    };
  };
  const delMin = pool("d:");
  const delOurs = pool("d:");
  const delOursAsync = pool("d:");
  const delKv = pool("d:");
  const cursors = Array.from({ length: 1000 }, () => encodeCursor(rnd()));
  const afterKeys = cursors.map((c) =>
    new TextDecoder().decode(
      Uint8Array.fromBase64(c, { alphabet: "base64url" }),
    )
  );
  let li = 0;
  const bulkKeys = () => Array.from({ length: 1000 }, () => newKey());

  const list: Case[] = [
    { name: "get hit / minimal", fn: () => minimal.get(rnd()), ops: 4000 },
    { name: "get hit / ours", fn: () => ns.sync.get(rnd()), ops: 4000 },
    {
      name: "get hit / ours async",
      fn: async () => void await ns.get(rnd()),
      ops: 4000,
    },
    { name: "get miss / minimal", fn: () => minimal.get(missing()), ops: 4000 },
    { name: "get miss / ours", fn: () => ns.sync.get(missing()), ops: 4000 },
    { name: "set / minimal", fn: () => minimal.set(rnd()), ops },
    { name: "set / ours", fn: () => ns.sync.set(rnd(), VALUE), ops },
    {
      name: "set / ours async",
      fn: async () => await ns.set(rnd(), VALUE),
      ops,
    },
    { name: "set new key / minimal", fn: () => minimal.set(newKey()), ops },
    { name: "set new key / ours", fn: () => ns.sync.set(newKey(), VALUE), ops },
    {
      name: "increment / minimal",
      fn: () => minimal.increment(counters()),
      ops,
    },
    { name: "increment / ours", fn: () => ns.sync.increment(counters()), ops },
    {
      name: "delete / minimal",
      setup: () => delMin.fill((k) => minimal.insertMany(k)),
      fn: () => minimal.delete(delMin.take()),
      ops,
    },
    {
      name: "delete / ours",
      setup: () =>
        delOurs.fill((k) => ns.sync.setMany(k.map((x) => [x, VALUE] as const))),
      fn: () => ns.sync.delete(delOurs.take()),
      ops,
    },
    {
      name: "list 100 / minimal",
      fn: () => minimal.list(afterKeys[li++ % afterKeys.length]),
      ops: 300,
    },
    {
      name: "list 100 / ours",
      fn: () =>
        ns.sync.list({ cursor: cursors[li++ % cursors.length], limit: 100 }),
      ops: 300,
    },
    {
      name: "bulk 1000 / minimal",
      fn: () => minimal.insertMany(bulkKeys()),
      ops: 3,
    },
    // Two baseline bulk cases, one per bulk case of ours, so both files
    // take the same number of keys: a larger B-tree has more pages for a
    // batch of random keys to dirty, which would charge ours for the
    // benchmark's own asymmetry.
    {
      name: "bulk 1000 / minimal (2)",
      fn: () => minimal.insertMany(bulkKeys()),
      ops: 3,
    },
    {
      name: "bulk 1000 / ours setMany",
      fn: () => ns.sync.setMany(bulkKeys().map((k) => [k, VALUE] as const)),
      ops: 3,
    },
    {
      name: "bulk 1000 / ours atomic",
      fn: () => {
        const op = ns.atomic();
        for (const k of bulkKeys()) op.set(k, VALUE);
        op.commitSync();
      },
      ops: 3,
    },
  ];
  const pairs: [string, string, string][] = [
    ["get hit", "get hit / minimal", "get hit / ours"],
    ["get hit (async API)", "get hit / minimal", "get hit / ours async"],
    ["get miss", "get miss / minimal", "get miss / ours"],
    ["set (existing key)", "set / minimal", "set / ours"],
    ["set (async API)", "set / minimal", "set / ours async"],
    ["set (new key)", "set new key / minimal", "set new key / ours"],
    ["increment", "increment / minimal", "increment / ours"],
    ["delete", "delete / minimal", "delete / ours"],
    ["list page of 100", "list 100 / minimal", "list 100 / ours"],
    [
      "bulk: setMany of 1,000",
      "bulk 1000 / minimal",
      "bulk 1000 / ours setMany",
    ],
    [
      "bulk: atomic() of 1,000",
      "bulk 1000 / minimal (2)",
      "bulk 1000 / ours atomic",
    ],
  ];
  if (kv) {
    const kvOps = 300;
    list.push(
      {
        name: "kv get hit / deno kv",
        fn: async () => void await kv.get([NS, rnd()]),
        ops: 2000,
      },
      {
        name: "kv get hit / ours async",
        fn: async () => void await ns.get(rnd()),
        ops: 2000,
      },
      {
        name: "kv set / deno kv",
        fn: async () =>
          void await kv.set([NS, rnd()], VALUE, { expireIn: TTL }),
        ops: kvOps,
      },
      {
        name: "kv set / ours async normal",
        fn: async () => await ns.set(rnd(), VALUE),
        ops: kvOps,
      },
      {
        name: "kv set / ours async full",
        fn: async () => await nsFull.set(rnd(), VALUE),
        ops: kvOps,
      },
      {
        name: "kv delete / deno kv",
        setup: async () => {
          let op = kv.atomic();
          delKv.fill((keys) => {
            for (const k of keys) {
              op = op.set([NS, k], VALUE, { expireIn: TTL });
            }
          });
          await op.commit();
        },
        fn: async () => await kv.delete([NS, delKv.take()]),
        ops: kvOps,
      },
      {
        name: "kv delete / ours async normal",
        setup: () =>
          delOursAsync.fill((k) =>
            ns.sync.setMany(k.map((x) => [x, VALUE] as const))
          ),
        fn: async () => void await ns.delete(delOursAsync.take()),
        ops: kvOps,
      },
      {
        name: "kv increment / deno kv",
        fn: async () =>
          void await kv.atomic().sum(["count", counters()], 1n).commit(),
        ops: kvOps,
      },
      {
        name: "kv increment / ours async normal",
        fn: async () => void await ns.increment(counters()),
        ops: kvOps,
      },
      {
        name: "kv increment / ours async full",
        fn: async () => void await nsFull.increment(counters()),
        ops: kvOps,
      },
      {
        name: "kv list 100 / deno kv",
        fn: async () => {
          const start = afterKeys[li++ % afterKeys.length];
          const it = kv.list({ start: [NS, start], end: [NS, "\uffff"] }, {
            limit: 100,
          });
          for await (const _ of it) { /* drain */ }
        },
        ops: 100,
      },
      {
        name: "kv list 100 / ours async",
        fn: async () =>
          void await ns.list({
            cursor: cursors[li++ % cursors.length],
            limit: 100,
          }),
        ops: 100,
      },
    );
    pairs.push(
      ["Deno KV: get hit", "kv get hit / deno kv", "kv get hit / ours async"],
      [
        "Deno KV: set, ours normal",
        "kv set / deno kv",
        "kv set / ours async normal",
      ],
      [
        "Deno KV: set, ours full (matched)",
        "kv set / deno kv",
        "kv set / ours async full",
      ],
      [
        "Deno KV: delete, ours normal",
        "kv delete / deno kv",
        "kv delete / ours async normal",
      ],
      [
        "Deno KV: increment, ours normal",
        "kv increment / deno kv",
        "kv increment / ours async normal",
      ],
      [
        "Deno KV: increment, ours full (matched)",
        "kv increment / deno kv",
        "kv increment / ours async full",
      ],
      [
        "Deno KV: list page of 100",
        "kv list 100 / deno kv",
        "kv list 100 / ours async",
      ],
    );
  }
  return { cases: list, pairs };
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per-op times of each round of one case, in µs. */
export interface Timings {
  /** Wall-clock time. */
  wall: number[];
  /**
   * CPU time of this process (user + system, so SQLite's write() calls
   * count). On a machine shared with other work it does not count the time
   * other processes held the CPU, which wall time does; it does not count
   * waiting on fsync either, so durability comparisons use wall time.
   */
  cpu: number[];
}

/**
 * Run every case `rounds` times, interleaved (each round runs every case
 * once, in a fresh random order), and return µs per op of each round.
 */
export async function interleave(
  list: Case[],
  rounds: number,
  wal?: { files: WalFiles; own: boolean },
): Promise<Map<string, Timings>> {
  const times = new Map<string, Timings>(
    list.map((c) => [c.name, { wall: [], cpu: [] }]),
  );
  for (let r = 0; r < rounds; r++) {
    const order = [...list].sort(() => Math.random() - 0.5);
    for (const c of order) {
      await c.setup?.();
      if (wal?.own) wal.files.reset();
      const before = wal?.files.state();
      const fn = guarded(c.name, c.fn);
      const cpu0 = cpuUsage();
      const start = performance.now();
      if (isAsync(c.fn)) {
        for (let i = 0; i < c.ops; i++) await fn();
      } else {
        for (let i = 0; i < c.ops; i++) fn();
      }
      if (wal?.own) wal.files.settle();
      const wall = (performance.now() - start) * 1000 / c.ops;
      const cpu = cpuUsage(cpu0);
      if (wal && !wal.own) wal.files.count(c.name, before!, wal.files.state());
      const t = times.get(c.name)!;
      t.wall.push(wall);
      t.cpu.push((cpu.user + cpu.system) / c.ops);
    }
  }
  return times;
}
