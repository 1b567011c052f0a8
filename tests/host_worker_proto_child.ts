// Worker side of the design-2 prototype (host_worker_proto_bench.ts): plain
// Extism on this thread, and its own node:sqlite connection answering the
// plugin's sup_cache_get, so host calls never leave the worker.
import createPlugin from "npm:@extism/extism@2.0.0-rc13";
import { DatabaseSync } from "node:sqlite";

type Plugin = Awaited<ReturnType<typeof createPlugin>>;
type Cx = {
  read(h: bigint): { bytes(): Uint8Array } | null;
  store(b: Uint8Array): bigint;
};
const plugins = new Map<string, Plugin>();
const self = globalThis as unknown as {
  onmessage: (e: MessageEvent) => void;
  postMessage: (m: unknown) => void;
};
const dec = new TextDecoder();

self.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  if (msg.load) {
    const db = new DatabaseSync(msg.db);
    const read = db.prepare(
      `SELECT value FROM entries
       WHERE space = 0 AND ns = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`,
    );
    const user: Record<string, (cx: Cx, ...a: bigint[]) => bigint> = {};
    const mod = new WebAssembly.Module(msg.load);
    for (const i of WebAssembly.Module.imports(mod)) {
      if (i.module === "extism:host/user") user[i.name] = () => 0n;
    }
    user.sup_cache_get = (cx, h) => {
      const key = dec.decode(cx.read(h)!.bytes());
      const row = read.get("bench", key, Date.now()) as { value: Uint8Array };
      const reply = new Uint8Array(1 + row.value.length);
      reply[0] = 1;
      reply.set(row.value, 1);
      return cx.store(reply);
    };
    plugins.set(
      msg.name,
      await createPlugin({ wasm: [{ module: mod }] }, {
        useWasi: false,
        runInWorker: false,
        functions: { "extism:host/user": user as never },
      }),
    );
    self.postMessage("loaded");
    return;
  }
  const out = await plugins.get(msg.name)!.call(msg.call, msg.input);
  self.postMessage(out ? out.bytes().slice() : null);
};
