// Child of bad_storage_test.ts: opens a cache (by `path` or `dataDir`), prints
// the value of keep/k0, or the error it got as JSON and exits with 1.
import { createSupCache } from "../../../src/cache/cache.ts";
import { StorageError } from "../../../src/errors.ts";

const [dir, how] = Deno.args;
try {
  await using cache = await createSupCache(
    how === "path" ? { path: `${dir}/cache.db` } : { dataDir: dir },
  );
  const value = await cache.namespace("keep").get("k0");
  console.log(value === null ? "(missing)" : new TextDecoder().decode(value));
} catch (err) {
  console.log(JSON.stringify({
    name: (err as Error).name,
    path: err instanceof StorageError ? err.path : null,
    message: (err as Error).message,
  }));
  Deno.exit(1);
}
