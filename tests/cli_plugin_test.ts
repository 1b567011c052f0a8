/**
 * `call` and `message`: the CLI loads a real plugin with the documented
 * flags, runs it against a data directory on disk, and the cache commands
 * then see what it stored.
 */
import assert from "node:assert/strict";
import { buildPlugins, wasmPathOf } from "../plugins/build.ts";
import { cli, ok, okJson, withDir } from "./support/cli_run.ts";
import { writeOddPlugin } from "./support/cli_plugins.ts";

await buildPlugins({ only: ["counter"] });
const COUNTER = wasmPathOf("counter");

Deno.test("message sends sup's handle_message and the counter's keys show up in its namespace", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    assert.equal(
      (await ok(["message", COUNTER, "inc", ...d])).stdout,
      "Counter incremented to 1\n",
    );
    assert.equal(
      (await ok(["message", COUNTER, "+", ...d])).stdout,
      "Counter incremented to 2\n",
    );
    assert.deepEqual(
      await okJson([
        "message",
        COUNTER,
        "inc",
        "--sender",
        "ada@s.whatsapp.net",
        ...d,
      ]),
      { success: true, reply: "Counter incremented to 1" },
    );
    // sup's counter key: counter:<sender>, in the namespace named after the file.
    assert.equal(
      (await ok(["get", "counter", "counter:sup-cache-cli", ...d])).stdout,
      "2",
    );
    assert.equal(
      (await ok(["get", "counter", "counter:ada@s.whatsapp.net", ...d])).stdout,
      "1",
    );
    const names = await okJson<{ name: string }[]>(["namespaces", ...d]);
    assert.deepEqual(names.map((n) => n.name), ["counter"]);
    // An operator fixes a value; the plugin sees it.
    await ok([
      "set",
      "counter",
      "counter:sup-cache-cli",
      "41",
      "--ttl",
      "never",
      ...d,
    ]);
    assert.equal(
      (await ok(["message", COUNTER, "inc", ...d])).stdout,
      "Counter incremented to 42\n",
    );
  }));

Deno.test("--name loads a plugin under another namespace", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    await ok(["message", COUNTER, "inc", "--name", "tally", ...d]);
    const names = await okJson<{ name: string }[]>(["namespaces", ...d]);
    assert.deepEqual(names.map((n) => n.name), ["tally"]);
  }));

Deno.test("call runs an export and prints its output; --json gives base64 and text", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    assert.equal(
      (await ok(["call", COUNTER, "get_version", ...d])).stdout,
      "1.0.0",
    );
    assert.deepEqual(await okJson(["call", COUNTER, "get_version", ...d]), {
      plugin: "counter",
      function: "get_version",
      output: btoa("1.0.0"),
      text: "1.0.0",
    });
    const help = JSON.parse(
      (await ok(["call", COUNTER, "get_help", ...d])).stdout,
    );
    assert.equal(help.name, "counter");
    const odd = await writeOddPlugin(dir);
    const binary = new Uint8Array([0, 255, 0xc3, 0x28, 10]);
    assert.deepEqual(
      (await ok(["call", odd, "echo", "-", ...d], { stdin: binary })).bytes,
      binary,
    );
    assert.equal(
      (await ok(["call", odd, "echo", "héllo", ...d])).stdout,
      "héllo",
    );
    assert.equal(
      (await okJson<{ text: null }>(["call", odd, "echo", "-", ...d], {
        stdin: binary,
      })).text,
      null,
    );
  }));

Deno.test("plugin failures exit 1 with the plugin, the function and the reason", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    const odd = await writeOddPlugin(dir);
    const failed = await cli(["message", odd, "hi", ...d]);
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, "");
    assert.match(failed.stderr, /plugin "odd" answered failure: boom/);
    const failedJson = await cli(["message", odd, "hi", "--json", ...d]);
    assert.equal(failedJson.code, 1);
    assert.deepEqual(JSON.parse(failedJson.stdout), {
      success: false,
      error: "boom",
    });

    const trap = await cli(["call", odd, "crash", ...d]);
    assert.equal(trap.code, 1);
    assert.match(
      trap.stderr,
      /^sup-cache call: plugin "odd", function "crash": the plugin trapped/,
    );
    const missing = await cli(["call", odd, "nope", "--json", ...d]);
    assert.equal(missing.code, 1);
    const error = JSON.parse(missing.stderr).error;
    assert.equal(error.code, "PLUGIN");
    assert.match(
      error.message,
      /function "nope": the plugin exports no such function/,
    );

    const noFile = await cli(["call", `${dir}/absent.wasm`, "f", ...d]);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /absent\.wasm.*check the path/);
    const swapped = await cli(["call", "get_version", COUNTER, ...d]);
    assert.equal(swapped.code, 2);
    assert.match(
      swapped.stderr,
      /does not end in \.wasm.*check the argument order/,
    );
  }));

Deno.test("cache commands never load the plugin host: they run without Extism's variables", () =>
  withDir(async (dir) => {
    const flags = [
      "--allow-read",
      "--allow-write",
      "--allow-env=SUP_DATA_DIR,XDG_DATA_HOME,HOME",
    ];
    await ok(["set", "a", "b", "c", "--data-dir", dir], { flags });
    assert.equal(
      (await ok(["get", "a", "b", "--data-dir", dir], { flags })).stdout,
      "c",
    );
  }));
