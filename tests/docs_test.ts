/**
 * The documentation stays small, connected and true: the README's size
 * budget, every relative link and anchor in README.md and docs/*.md, no
 * table printed twice, no internal references, and the examples that
 * `deno test --doc` cannot run on its own (the README's `deno run` command
 * with its exact permission flags, and the plugin tutorial, which is
 * AssemblyScript and must be compiled first).
 */
import { deno } from "./support/command.ts";
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { buildPlugins, PLUGINS_DIR, wasmPathOf } from "../plugins/build.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const README = `${ROOT}/README.md`;
/** "At most 12 KB": a newcomer reads the README in one sitting. */
const README_MAX_BYTES = 12 * 1024;

async function docFiles(): Promise<string[]> {
  const files = [README];
  for await (const e of Deno.readDir(`${ROOT}/docs`)) {
    if (e.isFile && e.name.endsWith(".md")) {
      files.push(`${ROOT}/docs/${e.name}`);
    }
  }
  return files.sort();
}

/** Markdown without fenced blocks and code spans, where links are not links. */
function prose(text: string): string {
  return text.replace(/^( *)(```|~~~)[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, "")
    .replace(/`[^`\n]*`/g, "");
}

/** Link targets: inline `[text](target)`, images, and `[label]: target`. */
function linkTargets(text: string): string[] {
  const body = prose(text);
  const inline = [...body.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1]);
  const defs = [...body.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)]
    .map((m) => m[1]);
  return [...inline, ...defs];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to `-`. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const body = text.replace(/^( *)(```|~~~)[^\n]*\n[\s\S]*?^\1\2[^\n]*$/gm, "");
  for (const m of body.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

Deno.test(`README.md is at most ${README_MAX_BYTES} bytes`, async () => {
  const size = (await Deno.stat(README)).size;
  assert.ok(
    size <= README_MAX_BYTES,
    `README.md is ${size} bytes; the budget is ${README_MAX_BYTES}: move detail to docs/`,
  );
});

Deno.test("every relative link in README.md and docs/*.md resolves", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of await docFiles()) {
    const text = await Deno.readTextFile(file);
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [path, fragment] = target.split("#", 2);
      const where = `${relative(ROOT, file)} -> ${target}`;
      const resolved = path === "" ? file : join(dirname(file), path);
      let isFile = false;
      try {
        isFile = (await Deno.stat(resolved)).isFile;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      if (!isFile) {
        broken.push(`${where}: no such file`);
      } else if (fragment && resolved.endsWith(".md")) {
        const heads = anchors(await Deno.readTextFile(resolved));
        if (!heads.has(fragment)) {
          broken.push(`${where}: no heading with anchor #${fragment}`);
        }
      }
    }
  }
  assert.ok(
    checked > 20,
    `only ${checked} relative links found; is the parser broken?`,
  );
  assert.deepEqual(broken, []);
});

Deno.test("no table is printed twice across README.md and docs/*.md", async () => {
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for (const file of await docFiles()) {
    const body = prose(await Deno.readTextFile(file));
    for (const m of body.matchAll(/(?:^\|.*\|[ \t]*\n)+/gm)) {
      const table = m[0].replace(/[ \t]+/g, " ").replace(/-{3,}/g, "---");
      const name = relative(ROOT, file);
      const first = seen.get(table);
      if (first !== undefined) {
        twice.push(`${name} repeats a table of ${first}`);
      }
      seen.set(table, first ?? name);
    }
  }
  assert.deepEqual(twice, []);
});

Deno.test("README.md and docs/*.md make no internal references", async () => {
  // Readers cannot look up our issue numbers or our machines.
  const internal = [/\bissue #?\d+/i, /\b(?:our|the) build machines?\b/i];
  const found: string[] = [];
  for (const file of await docFiles()) {
    const lines = (await Deno.readTextFile(file)).split("\n");
    lines.forEach((line, i) => {
      if (internal.some((re) => re.test(line))) {
        found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(found, []);
});

/** The fenced block of `lang` that follows `marker` in `text`. */
function blockAfter(text: string, marker: string, lang: string): string {
  const at = text.indexOf(marker);
  assert.ok(at >= 0, `marker not found: ${marker}`);
  const m = text.slice(at).match(
    new RegExp("^( *)```" + lang + "[^\\n]*\\n([\\s\\S]*?)^\\1```", "m"),
  );
  assert.ok(m, `no ${lang} block after: ${marker}`);
  return m[2].replace(new RegExp(`^${m[1]}`, "gm"), "");
}

Deno.test("the README's example runs with exactly the README's flags", async () => {
  await buildPlugins({ only: ["counter"] });
  const readme = await Deno.readTextFile(README);
  const source = blockAfter(readme, "Save this as `quick_start.ts`", "ts");
  const command = blockAfter(readme, "Run it with only the permissions", "sh")
    .replace(/\\\n/g, " ").trim().split(/\s+/);
  assert.equal(command[0], "deno");
  assert.equal(command.at(-1), "quick_start.ts");
  // The script lives outside the clone so a user's own quick_start.ts is
  // never touched; only its import of mod.ts has to say where the clone is.
  const dir = await Deno.makeTempDir({ prefix: "sup-readme-" });
  try {
    const script = `${dir}/quick_start.ts`;
    await Deno.writeTextFile(
      script,
      source.replace('"./mod.ts"', JSON.stringify(`file://${ROOT}/mod.ts`)),
    );
    const run = await deno([...command.slice(1, -1), script], ROOT);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Counter incremented to \d+\n12°C\nberlin\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the plugin tutorial in docs/writing-plugins.md builds and runs", async () => {
  const guide = await Deno.readTextFile(`${ROOT}/docs/writing-plugins.md`);
  const plugin = blockAfter(guide, "Make a folder with an `index.ts`", "ts");
  const host = blockAfter(guide, "Run it:", "ts");
  const command = blockAfter(guide, "console.log(out.reply)", "sh").trim()
    .split(/\s+/);
  assert.equal(command.at(-1), "hello.ts");
  assert.match(plugin, /^\/\/ plugins\/greeter\/index\.ts/);
  // A folder of its own next to pdk/ (the tutorial imports "../pdk/index"),
  // named so it cannot clash with a reader's own plugins/greeter.
  const name = `docs-greeter-${crypto.randomUUID().slice(0, 8)}`;
  const folder = `${PLUGINS_DIR}${name}`;
  const dir = await Deno.makeTempDir({ prefix: "sup-tutorial-" });
  try {
    await Deno.mkdir(folder);
    await Deno.writeTextFile(`${folder}/index.ts`, plugin);
    await buildPlugins({ only: [name] });
    const script = `${dir}/hello.ts`;
    await Deno.writeTextFile(
      script,
      host.replace('"./mod.ts"', JSON.stringify(`file://${ROOT}/mod.ts`))
        .replace('"./.data"', JSON.stringify(`${dir}/data`))
        .replace(
          '"plugins/greeter/greeter.wasm"',
          JSON.stringify(wasmPathOf(name)),
        ),
    );
    for (const count of [1, 2]) {
      const run = await deno([...command.slice(1, -1), script], ROOT);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `Hello! That's ${count} time(s) now.\n`);
    }
    // The example test of "Testing a plugin" passes against the same plugin.
    const test = blockAfter(guide, "A complete test of the greeter", "ts");
    const testCommand = blockAfter(
      guide,
      "A complete test of the greeter",
      "sh",
    )
      .trim().split(/\s+/);
    assert.equal(testCommand.at(-1), "greeter_test.ts");
    const testScript = `${dir}/greeter_test.ts`;
    await Deno.writeTextFile(
      testScript,
      test.replace(
        '"@sup/cache/testing"',
        JSON.stringify(`file://${ROOT}/src/testing/mod.ts`),
      ).replace(
        '"plugins/greeter/greeter.wasm"',
        JSON.stringify(wasmPathOf(name)),
      ),
    );
    const run = await deno([...testCommand.slice(1, -1), testScript], ROOT);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /ok \| 1 passed \| 0 failed/);
  } finally {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
