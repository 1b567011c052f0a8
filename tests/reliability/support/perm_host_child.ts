// Child of permissions_test.ts: loads a plugin and a WASI plugin with a
// cache on a data directory, as the README's host example does, and prints
// what the plugins saw. Runs with exactly the flags the test chooses.
import { createSupCache, loadPlugin } from "../../../mod.ts";
import { frames } from "../../fixtures/wat.ts";

const [dataDir, wasmPath, wasiPath] = Deno.args;
await using cache = await createSupCache({ dataDir });
await using plugin = await loadPlugin(wasmPath, {
  cache,
  hostFunctions: { noop: (_cx, h) => h },
});
const count = (await plugin.call("sup_cache_increment", frames("runs", 1n)))!
  .text().slice(1);
await using wasi = await loadPlugin(wasiPath, { cache, env: {} });
await wasi.call("say");
// Host files stay out of reach even though the process could read them.
const passwd = (await plugin.call("read_file", frames("/etc/passwd")))!.text();
console.log(JSON.stringify({ count, passwd }));
