// Child of permissions_test.ts: a cache-only script as a user writes it,
// importing the public mod.ts. Args: the data directory, or "default" to use
// $SUP_DATA_DIR. Prints the counter after one increment.
import { createSupCache } from "../../../mod.ts";

const [dir] = Deno.args;
await using cache = await createSupCache(
  dir === "default" ? {} : { dataDir: dir },
);
console.log(await cache.namespace("perm").increment("runs"));
