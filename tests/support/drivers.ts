/**
 * Runs the same cache tests against every storage driver. The FFI driver
 * needs `jsr:@db/sqlite` (JSR, or the offline copy through deno.ffi.json),
 * the SQLite library and --allow-ffi. Where it cannot load, its tests are
 * registered as ignored with the reason in the name, so the skip is
 * visible; with SUP_REQUIRE_FFI=1 (set by `deno task test:ffi`, which CI
 * runs) an unavailable driver fails the run instead, so CI never skips it.
 *
 * SUP_TEST_DRIVERS=ffi (or node:sqlite) registers only that driver's
 * variants, so the FFI run does not repeat the default driver's tests.
 *
 * The `redis` and `redis-cluster` drivers run the same tests on a real
 * redis-server and a real 3-master cluster that this process starts on
 * loopback ports (tests/support/redis_server.ts); without redis-server they
 * are ignored with the reason in the name.
 */
import {
  createSupCache,
  DriverUnavailableError,
  type SupCache,
  type SupCacheOptions,
} from "../../mod.ts";
import { redisSkip, sharedRedis } from "./redis_server.ts";

export type Open = (options?: SupCacheOptions) => Promise<SupCache>;

type DriverName = "node:sqlite" | "ffi" | "redis" | "redis-cluster";

/** Why the FFI driver cannot run here, or `null` when it can. */
async function ffiUnavailable(): Promise<string | null> {
  const dir = await Deno.makeTempDir();
  try {
    const cache = await createSupCache({ dataDir: dir, driver: "ffi" });
    await cache.close();
    return null;
  } catch (err) {
    if (err instanceof DriverUnavailableError) return err.message;
    throw err;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The reason the FFI driver is skipped here, or `null` when it runs. */
export const ffiSkip: string | null = await ffiUnavailable();

if (ffiSkip !== null && Deno.env.get("SUP_REQUIRE_FFI") === "1") {
  throw new Error(
    `SUP_REQUIRE_FFI=1 but the ffi driver is unavailable: ${ffiSkip}`,
  );
}

const only = Deno.env.get("SUP_TEST_DRIVERS")?.split(",");
const DRIVERS: { name: DriverName; skip: string | null }[] = [
  { name: "node:sqlite" as const, skip: null },
  {
    name: "ffi" as const,
    // Short in the test name; the full reason is in the module's ffiSkip.
    skip: ffiSkip === null ? null : "jsr:@db/sqlite or --allow-ffi unavailable",
  },
  { name: "redis" as const, skip: redisSkip },
  { name: "redis-cluster" as const, skip: redisSkip },
].filter((d) => only === undefined || only.includes(d.name));

/**
 * On Redis, a test's data directory becomes a key prefix of its own on the
 * shared test server (so reopening with the same `dataDir` finds the same
 * data, as on SQLite), and an explicit `path` another prefix (a different
 * file is a different store). SQLite-only options are dropped, except an
 * invalid `durability`, kept so the option check still refuses it.
 */
function redisOptions(
  kind: "redis" | "redis-cluster",
  urls: string[],
  testPrefix: string,
  options: SupCacheOptions,
): SupCacheOptions {
  const { dataDir: _d, path, driver: _v, durability, ...rest } = options;
  const keyPrefix = path === undefined
    ? testPrefix
    : `${testPrefix}${encodeURIComponent(path)}:`;
  const out: SupCacheOptions = {
    ...rest,
    redis: kind === "redis"
      ? { url: urls[0], keyPrefix }
      : { cluster: urls, keyPrefix },
  };
  if (
    durability !== undefined && durability !== "normal" &&
    durability !== "full"
  ) out.durability = durability;
  return out;
}

/** A fresh data directory on disk, removed after the test. */
export async function withDataDir<T>(
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sup-cache-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Register `fn` once per driver. `open` creates caches on a real file in a
 * per-test temporary directory (unless the options name another place).
 */
export function testEachDriver(
  name: string,
  fn: (open: Open, dir: string, driver: DriverName) => Promise<void>,
  /** Why this test cannot hold on Redis; omit when it does. */
  notOnRedis?: string,
): void {
  for (const driver of DRIVERS) {
    const remote = driver.name === "redis" || driver.name === "redis-cluster";
    const skip = driver.skip ?? (remote && notOnRedis ? notOnRedis : null);
    Deno.test({
      name: `[${driver.name}] ${name}${skip ? ` (skipped: ${skip})` : ""}`,
      ignore: skip !== null,
      // node-redis keeps sockets and timers that outlive one test by design.
      sanitizeOps: !remote,
      sanitizeResources: !remote,
      fn: () =>
        withDataDir(async (dir) => {
          const opened: SupCache[] = [];
          const kind = driver.name as "redis" | "redis-cluster";
          const urls = remote ? await sharedRedis(kind) : [];
          const testPrefix = `t-${crypto.randomUUID()}:`;
          const open: Open = async (options = {}) => {
            const cache = await createSupCache(
              remote ? redisOptions(kind, urls, testPrefix, options) : {
                dataDir: dir,
                driver: driver.name as "node:sqlite" | "ffi",
                ...options,
              },
            );
            opened.push(cache);
            return cache;
          };
          try {
            await fn(open, dir, driver.name);
          } finally {
            for (const cache of opened) await cache.close();
          }
        }),
    });
  }
}

export const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : new TextDecoder().decode(bytes);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
