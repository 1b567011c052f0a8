// Child process for the concurrency tests: increments one key N times on a
// shared data directory, then prints "done".
import { createSupCache } from "../../mod.ts";

const [dataDir, key, count] = Deno.args;
await using cache = await createSupCache({ dataDir });
const ns = cache.namespace("shared");
for (let i = 0; i < Number(count); i++) await ns.increment(key);
console.log("done");
