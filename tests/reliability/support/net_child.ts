// Child of permissions_test.ts, run WITH --allow-net so that only the plugin
// sandbox can stop a request: serves HTTP on 127.0.0.1, loads a plugin that
// calls Extism's http_request to it (with allowedHosts as given in args),
// and prints what the plugin got back and how many requests arrived.
import { createSupCache, loadPlugin } from "../../../mod.ts";

const [dataDir, wasmPath, allowed] = Deno.args;
let requests = 0;
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => {
    requests++;
    return new Response("secret from the network");
  },
);
const url = `http://127.0.0.1:${server.addr.port}/`;
await using cache = await createSupCache({ dataDir });
await using plugin = await loadPlugin(wasmPath, {
  cache,
  name: "net",
  ...(allowed === "none" ? {} : { allowedHosts: [allowed] }),
});
let outcome: string;
try {
  const out = await plugin.call(
    "fetch",
    JSON.stringify({ method: "GET", url }),
  );
  outcome = `output:${out?.text() ?? ""}`;
} catch (err) {
  outcome = `${(err as Error).name}:${(err as Error).message}`;
}
await server.shutdown();
console.log(JSON.stringify({ outcome, requests }));
