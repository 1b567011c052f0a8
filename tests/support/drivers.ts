/**
 * Runs the same cache tests against every storage driver. The FFI driver
 * needs JSR and --allow-ffi; where it cannot load, its tests are registered
 * as ignored with the reason in the name, so the skip is visible.
 */
import {
  createSupCache,
  DriverUnavailableError,
  type SupCache,
  type SupCacheOptions,
} from "../../mod.ts";

export type Open = (options?: SupCacheOptions) => Promise<SupCache>;

async function ffiAvailable(): Promise<string | null> {
  const dir = await Deno.makeTempDir();
  try {
    const cache = await createSupCache({ dataDir: dir, driver: "ffi" });
    await cache.close();
    return null;
  } catch (err) {
    if (err instanceof DriverUnavailableError) {
      return "jsr:@db/sqlite or --allow-ffi unavailable";
    }
    throw err;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ffiSkip = await ffiAvailable();

const DRIVERS: { name: "node:sqlite" | "ffi"; skip: string | null }[] = [
  { name: "node:sqlite", skip: null },
  { name: "ffi", skip: ffiSkip },
];

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
  fn: (open: Open, dir: string) => Promise<void>,
): void {
  for (const driver of DRIVERS) {
    Deno.test({
      name: `[${driver.name}] ${name}${
        driver.skip ? ` (skipped: ${driver.skip})` : ""
      }`,
      ignore: driver.skip !== null,
      fn: () =>
        withDataDir(async (dir) => {
          const opened: SupCache[] = [];
          const open: Open = async (options = {}) => {
            const cache = await createSupCache({
              dataDir: dir,
              driver: driver.name,
              ...options,
            });
            opened.push(cache);
            return cache;
          };
          try {
            await fn(open, dir);
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
