/**
 * An {@link AsyncBackend} over an in-memory SQLite backend, for testing the
 * cache core's asynchronous path with every optional primitive present
 * (eviction, attribution) before a networked backend has them all: every
 * result becomes a Promise answered after the caller yields, there is no
 * `transaction` (so the core must work without one, as on Redis), and
 * `writeManyIfAbsent` is left out (so `setManyIfAbsent` goes through
 * `commit`, as on Redis). Each call stays atomic on its own, as one Redis
 * script is.
 */
import {
  type AsyncBackend,
  type Backend,
  type IncrementResult,
  QuotaRefusal,
} from "../../src/storage/backend.ts";
import { openNodeSqlite } from "../../src/storage/node_sqlite.ts";
import { SqliteBackend } from "../../src/storage/sqlite_backend.ts";

/** Calls made through the adapter, by method name (what a test can assert on). */
export type CallLog = Map<string, number>;

/**
 * A fresh in-memory SQLite backend behind the asynchronous interface;
 * `without` leaves out more members (optional primitives, to test what the
 * cache does without them).
 */
export function asyncSqlite(
  log: CallLog = new Map(),
  without: readonly string[] = [],
): AsyncBackend {
  const inner: Backend = new SqliteBackend(
    openNodeSqlite(":memory:"),
    ":memory:",
    "normal",
  );
  // Answered after the caller has yielded (a microtask later), never at
  // once; a timer would make the thousands of writes of a test slow.
  const later = <T>(fn: () => T): Promise<T> => Promise.resolve().then(fn);
  const skip = new Set(["transaction", "writeManyIfAbsent", ...without]);
  return new Proxy(inner, {
    get(target, name) {
      if (name === "async") return true;
      if (typeof name !== "string" || skip.has(name)) return undefined;
      if (name === "path") return "async-sqlite::memory:";
      if (name === "knownUsage") {
        return (space: 0 | 1, ns: string) => target.usage(space, ns);
      }
      if (name === "commit") {
        return (...args: Parameters<NonNullable<AsyncBackend["commit"]>>) => {
          log.set(name, (log.get(name) ?? 0) + 1);
          const [space, ns, checks, writes, now, quota] = args;
          return later(() => {
            try {
              return target.transaction(() => {
                for (const c of checks) {
                  const v = target.get(space, ns, c.key, now)?.version ?? null;
                  if (v !== c.version) return "check" as const;
                }
                if (writes.length > 0) {
                  target.writeMany(space, ns, writes, now, quota);
                }
                return "ok" as const;
              });
            } catch (err) {
              if (err instanceof QuotaRefusal) return "quota" as const;
              throw err;
            }
          });
        };
      }
      if (name === "increment") {
        // Redis's contract: say why nothing was written, in the answer.
        return (...args: Parameters<Backend["increment"]>) =>
          later((): IncrementResult => {
            const [space, ns, key, by, , , now] = args;
            const text = target.increment(...args);
            if (typeof text === "string") {
              return { kind: "ok", value: Number(text) };
            }
            const entry = target.get(space, ns, key, now);
            const current = entry ? new TextDecoder().decode(entry.value) : "0";
            if (
              !/^-?(0|[1-9][0-9]*)$/.test(current) ||
              !Number.isSafeInteger(Number(current))
            ) {
              return { kind: "not-integer", text: current };
            }
            if (!Number.isSafeInteger(Number(current) + by)) {
              return { kind: "overflow" };
            }
            return { kind: "quota" };
          });
      }
      const member = (target as unknown as Record<string, unknown>)[name];
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        log.set(name, (log.get(name) ?? 0) + 1);
        // One transaction per call, as one Redis script is atomic.
        return later(() =>
          name === "close"
            ? member.apply(target, args)
            : target.transaction(() => member.apply(target, args))
        );
      };
    },
  }) as unknown as AsyncBackend;
}
