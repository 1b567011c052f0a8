// Child of ffi_permissions_test.ts: opens a cache with driver "ffi" and
// prints either "ok" or the error's class and message, as one JSON line.
import { createSupCache } from "../../mod.ts";

const [dataDir] = Deno.args;
try {
  const cache = await createSupCache({ dataDir, driver: "ffi" });
  await cache.namespace("p").set("k", "v");
  await cache.close();
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(JSON.stringify({
    ok: false,
    name: (err as Error).name,
    message: (err as Error).message,
  }));
}
