/**
 * The demo behind `deno task demo`: builds the example plugins if needed,
 * loads them with one cache on a data directory, sends a few messages as two
 * senders, and prints the replies and what each plugin stored. Run it twice:
 * the second run continues from the first run's counts and settings.
 *
 * Data directory: `$SUP_DATA_DIR` when set, else `./.data` (git-ignored),
 * so a fresh clone needs no setup. Needs `--allow-read --allow-write
 * --allow-env`.
 *
 * @module
 */
import { createSupCache, loadPlugin, type SupCache } from "../mod.ts";
import { buildPlugins, wasmPathOf } from "./build.ts";

/** The data directory the demo uses, and why. */
export function demoDataDir(): { dir: string; source: string } {
  const env = Deno.env.get("SUP_DATA_DIR");
  if (env !== undefined && env !== "") {
    return { dir: env, source: "$SUP_DATA_DIR" };
  }
  return { dir: "./.data", source: "default; set SUP_DATA_DIR to change" };
}

/** One scripted message: which plugin, who sends it, what they type after `.sup <plugin>`. */
interface Step {
  plugin: string;
  sender: string;
  message: string;
}

const ALICE = "alice@s.whatsapp.net";
const BOB = "bob@s.whatsapp.net";

const SCRIPT: Step[] = [
  { plugin: "counter", sender: ALICE, message: "show" },
  { plugin: "counter", sender: ALICE, message: "inc" },
  { plugin: "counter", sender: ALICE, message: "+" },
  { plugin: "counter", sender: BOB, message: "increment" },
  { plugin: "counter", sender: ALICE, message: "+ coffees" },
  { plugin: "counter", sender: ALICE, message: "list" },
  { plugin: "settings", sender: ALICE, message: "set lang ca" },
  { plugin: "settings", sender: BOB, message: "set city Barcelona, Spain" },
  { plugin: "settings", sender: ALICE, message: "show" },
  { plugin: "ratelimit", sender: BOB, message: "" },
  { plugin: "ratelimit", sender: BOB, message: "status" },
];

const decoder = new TextDecoder();

function when(expiresAt: number | null): string {
  if (expiresAt === null) return "never expires";
  const s = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  return `expires in ${s}s`;
}

/** Print every live entry of a plugin's cache and store namespaces. */
async function dump(cache: SupCache, plugin: string): Promise<void> {
  for (const kind of ["cache", "store"] as const) {
    const ns = kind === "cache" ? cache.namespace(plugin) : cache.store(plugin);
    for await (const key of ns.list()) {
      const entry = await ns.getEntry(key);
      if (entry === null) continue; // expired between list and read
      console.log(
        `  ${plugin} ${kind}  ${key} = ${decoder.decode(entry.value)}  (${
          when(entry.expiresAt)
        })`,
      );
    }
  }
}

/** Run the demo, printing as it goes. */
export async function runDemo(): Promise<void> {
  const { dir, source } = demoDataDir();
  console.log(`data directory: ${dir} (${source})`);
  const built = await buildPlugins({
    only: ["counter", "settings", "ratelimit"],
  });
  for (const b of built) {
    console.log(`plugin ${b.name}: ${b.compiled ? "built now" : "up to date"}`);
  }

  await using cache = await createSupCache({ dataDir: dir });
  await using counter = await loadPlugin(wasmPathOf("counter"), { cache });
  await using settings = await loadPlugin(wasmPathOf("settings"), { cache });
  await using ratelimit = await loadPlugin(wasmPathOf("ratelimit"), {
    cache,
    config: { limit: "3", window_ms: "60000" },
  });
  const plugins = { counter, settings, ratelimit };

  console.log("\nmessages:");
  for (const step of SCRIPT) {
    const plugin = plugins[step.plugin as keyof typeof plugins];
    const out = await plugin.handleMessage({
      message: step.message,
      sender: step.sender,
    });
    const who = step.sender.split("@")[0];
    const text = out.success ? out.reply ?? "" : `ERROR ${out.error}`;
    console.log(
      `  ${who}: .sup ${step.plugin} ${step.message}\n    -> ${
        text.replaceAll("\n", "\n       ")
      }`,
    );
  }

  console.log("\nstored:");
  for (const name of Object.keys(plugins)) await dump(cache, name);
  console.log(
    "\nRun it again: the counts and settings above carry over (cache entries last for their TTL, the store forever).",
  );
}

if (import.meta.main) {
  await runDemo();
}
