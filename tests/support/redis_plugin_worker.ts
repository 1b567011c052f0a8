// One "bot instance" for the multi-process plugin test: loads the counter
// plugin with a cache on the Redis cluster and sends "+" N times.
import { createSupCache, loadPlugin } from "../../mod.ts";

const [nodes, wasm, times] = Deno.args;
await using cache = await createSupCache({
  redis: { cluster: JSON.parse(nodes) },
});
await using plugin = await loadPlugin(wasm, { cache });
for (let i = 0; i < Number(times); i++) {
  const out = await plugin.handleMessage({
    message: "+ shared",
    sender: "group@g.us",
  });
  if (!out.success) throw new Error(`handleMessage: ${out.error}`);
}
