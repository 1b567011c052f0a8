// One fresh process loading one plugin, for whole-process timings of the
// first load (see docs/sandbox.md):
//   deno run -A tests/host_fresh_load.ts sup|plain <plugin.wasm> <dataDir>
// "sup" loads through loadPlugin (the sandbox's rewrite comes from the
// store under <dataDir> when the module was loaded before); "plain" through
// createPlugin. Prints the load time in ms (imports excluded).
const [mode, path, dataDir] = Deno.args;
const bytes = await Deno.readFile(path);
if (mode === "plain") {
  const { default: createPlugin } = await import(
    "npm:@extism/extism@2.0.0-rc13"
  );
  const t = performance.now();
  const p = await createPlugin({ wasm: [{ data: bytes }] }, {
    useWasi: true,
    runInWorker: false,
  });
  await p.call("nothing");
  console.log(`plain load+call ${(performance.now() - t).toFixed(2)} ms`);
  await p.close();
} else {
  const { createSupCache, loadPlugin } = await import("../mod.ts");
  const cache = await createSupCache({ dataDir });
  const t = performance.now();
  const p = await loadPlugin(bytes, { cache, name: "bench" });
  await p.call("nothing");
  console.log(`sup load+call ${(performance.now() - t).toFixed(2)} ms`);
  await p.close();
  await cache.close();
}
