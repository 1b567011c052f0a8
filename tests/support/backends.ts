/**
 * Runs one conformance test body on every backend: node:sqlite, the
 * asynchronous SQLite wrapper (tests/support/async_sqlite.ts: no
 * transactions, each call atomic on its own, as on Redis), a real
 * redis-server and a real 3-master Redis Cluster (started by this process,
 * tests/support/redis_server.ts). Without redis-server the Redis variants
 * are registered as ignored with the reason in their name, so the skip is
 * visible. SUP_TEST_DRIVERS (e.g. `redis,redis-cluster`, as `deno task
 * test:valkey` sets) registers only the variants it names (`node:sqlite`,
 * `async`, `redis`, `redis-cluster`).
 *
 * A file that uses {@link testEachBackend} calls `stopSharedRedis()` last.
 */
import {
  createSupCache,
  type SupCache,
  type SupCacheOptions,
} from "../../mod.ts";
import {
  type TestCache,
  type TestCacheOptions,
  TestClock,
} from "../../src/testing/mod.ts";
import { asyncSqlite } from "./async_sqlite.ts";
import {
  rawCommand,
  redisSkip,
  type RedisTarget,
  sharedRedis,
} from "./redis_server.ts";

/** The backends a conformance test runs on. */
export type BackendName = "node:sqlite" | "async" | "redis" | "redis-cluster";

/** The backend a test body is given. */
export interface BackendUnderTest {
  readonly name: BackendName;
  /** The single server or cluster, on Redis; `null` elsewhere. */
  readonly redis: RedisTarget | null;
  /**
   * Options placing a cache somewhere empty of its own: in memory, or a new
   * key prefix on the shared server.
   */
  fresh(): SupCacheOptions;
  /**
   * Options naming this test's one persistent place (a file in a temporary
   * directory, or the test's key prefix): every cache opened with them, in
   * this process or another (they are plain JSON), sees the same data.
   * `null` on the async wrapper, which lives in one process's memory.
   */
  readonly shared: SupCacheOptions | null;
  /**
   * What `createTestCache` gives, on this backend: a cache on a
   * {@link TestClock}, its background sweep off, somewhere empty (or at
   * `where`, e.g. {@link shared}).
   */
  open(options?: TestCacheOptions, where?: SupCacheOptions): Promise<TestCache>;
}

const LABEL: Record<BackendName, string> = {
  // Unlabelled: the names the SQLite tests always had.
  "node:sqlite": "",
  async: "[async backend] ",
  redis: "[redis] ",
  "redis-cluster": "[redis-cluster] ",
};

const only = Deno.env.get("SUP_TEST_DRIVERS")?.split(",");
const ALL: BackendName[] = ["node:sqlite", "async", "redis", "redis-cluster"];

/**
 * Register `fn` once per backend (all four unless `on` names fewer, for a
 * behaviour a backend cannot have, e.g. two processes on the in-memory
 * async wrapper). `knownBugs` names backends where the test is known to
 * fail, with why: registered as ignored with the reason in the name, so it
 * stays visible until the bug is fixed and the entry removed.
 */
export function testEachBackend(
  name: string,
  fn: (b: BackendUnderTest) => Promise<void>,
  on: readonly BackendName[] = ALL,
  knownBugs: Partial<Record<BackendName, string>> = {},
): void {
  for (const backend of on) {
    if (only !== undefined && !only.includes(backend)) continue;
    const remote = backend === "redis" || backend === "redis-cluster";
    const bug = knownBugs[backend];
    const skip = (remote ? redisSkip : null) ??
      (bug === undefined ? null : `known bug: ${bug}`);
    Deno.test({
      name: `${LABEL[backend]}${name}${skip ? ` (skipped: ${skip})` : ""}`,
      ignore: skip !== null,
      // node-redis keeps sockets and timers that outlive one test by design.
      sanitizeOps: !remote,
      sanitizeResources: !remote,
      fn: async () => {
        const dir = backend === "node:sqlite"
          ? await Deno.makeTempDir({ prefix: "sup-conformance-" })
          : null;
        try {
          await fn(remote ? await onRedis(backend) : onSqlite(backend, dir));
        } finally {
          if (dir) await Deno.remove(dir, { recursive: true });
        }
      },
    });
  }
}

function onSqlite(
  name: "node:sqlite" | "async",
  dir: string | null,
): BackendUnderTest {
  const fresh = (): SupCacheOptions =>
    name === "async"
      ? { path: ":memory:", driver: asyncSqlite() }
      : { path: ":memory:" };
  return {
    name,
    redis: null,
    fresh,
    shared: dir === null ? null : { path: `${dir}/cache.db` },
    open: (options, where = fresh()) => openTest(options, where),
  };
}

async function onRedis(
  kind: "redis" | "redis-cluster",
): Promise<BackendUnderTest> {
  const urls = await sharedRedis(kind);
  const test = `t-${crypto.randomUUID()}:`;
  let n = 0;
  const at = (keyPrefix: string): RedisTarget["options"] =>
    kind === "redis"
      ? { url: urls[0], keyPrefix }
      : { cluster: urls, keyPrefix };
  const target: RedisTarget = { kind, options: at(test) };
  // A fresh place is a prefix inside the test's own, so nothing collides.
  const fresh = (): SupCacheOptions => ({
    redis: at(`${test}${++n}:`),
  });
  return {
    name: kind,
    redis: target,
    fresh,
    shared: { redis: target.options },
    open: (options, where = fresh()) => openTest(options, where),
  };
}

/** createTestCache's cache, at `where` (which may be a file or a server). */
async function openTest(
  options: TestCacheOptions = {},
  where: SupCacheOptions,
): Promise<TestCache> {
  const clock = options.clock ?? new TestClock();
  const cache: SupCache = await createSupCache({
    sweepIntervalMs: 0,
    ...options,
    ...where,
    clock,
  });
  return { cache, clock, [Symbol.asyncDispose]: () => cache.close() };
}

/**
 * One raw command (`cmd` then `key`) to whichever node of `t` holds `key`,
 * for the few checks of Redis's own key layout; the raw reply text.
 */
export async function rawFor(
  t: RedisTarget,
  key: string,
  cmd: string[],
): Promise<string> {
  const urls = t.options.url ? [t.options.url] : t.options.cluster!;
  for (const url of urls) {
    const reply = await rawCommand(Number(new URL(url).port), [...cmd, key]);
    if (!reply.startsWith("-MOVED")) return reply;
  }
  throw new Error("no node holds the key");
}
