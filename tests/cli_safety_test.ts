/**
 * Operator safety of the CLI, on real files with real subprocesses: no
 * command line an operator can type destroys stored data, and nothing a
 * plugin stored can act on the operator's terminal.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  CLI,
  cli,
  CLI_FLAGS,
  ok,
  okJson,
  ROOT,
  withDir,
} from "./support/cli_run.ts";
import { writeReplyPlugin } from "./support/cli_plugins.ts";
import { onTerminal } from "./support/cli_terminal.ts";

async function sha(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return new Uint8Array(digest).toHex();
}

async function seed(dir: string): Promise<void> {
  const d = ["--data-dir", dir];
  await ok(["set", "counter", "visits", "41", ...d]);
  await ok(["set", "settings", "lang", "en", "--store", ...d]);
}

async function liveKeys(dir: string): Promise<string[]> {
  const d = ["--data-dir", dir];
  const cache = await okJson<{ keys: { key: string }[] }>([
    "keys",
    "counter",
    ...d,
  ]);
  const store = await okJson<{ keys: { key: string }[] }>([
    "keys",
    "settings",
    "--store",
    ...d,
  ]);
  return [...cache.keys, ...store.keys].map((k) => k.key);
}

Deno.test("export --output refuses the live database (by any name), other SQLite files, and existing files without --force, before writing anything", () =>
  withDir(async (dir) => {
    await seed(dir);
    const d = ["--data-dir", dir];
    const db = `${dir}/cache.db`;
    const before = await sha(db);
    await Deno.symlink(db, `${dir}/link.db`);
    await Deno.link(db, `${dir}/hard.db`);
    const sup = `${dir}/store.db`;
    new DatabaseSync(sup).exec("CREATE TABLE key_values(key TEXT)");
    const supBefore = await sha(sup);
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [["--output", db], /it is the live database/],
      [["--output", db, "--force"], /it is the live database/],
      [["--output", `${dir}/link.db`, "--force"], /it is the live database/],
      [["--output", `${dir}/hard.db`, "--force"], /it is the live database/],
      [["--output", `${dir}/cache.db-wal`], /live database's -wal file/],
      [["--output", `${dir}/cache.db-shm`, "--force"], /-shm file/],
      // Relative to the directory the command runs in.
      [["--output", "cache.db", "--force"], /it is the live database/],
      [["--output", sup, "--force"], /it is an SQLite database/],
      [["--output", dir], /it is a directory/],
      [["--output", `${dir}/nodir/x.jsonl`], /its directory .* does not exist/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(["export", ...args, ...d], { cwd: dir });
      assert.equal(run.code, 1, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(" "));
      const json = await cli(["export", ...args, ...d, "--json"], { cwd: dir });
      assert.equal(JSON.parse(json.stderr).error.code, "OUTPUT_REFUSED");
    }
    assert.equal(await sha(db), before, "the live database is untouched");
    assert.equal(await sha(sup), supBefore, "the other database is untouched");
    assert.deepEqual((await liveKeys(dir)).sort(), ["lang", "visits"]);

    const old = `${dir}/old.jsonl`;
    await Deno.writeTextFile(old, "precious\n");
    const refused = await cli(["export", "--output", old, ...d]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /the file exists; .* pass --force to replace it/,
    );
    assert.equal(await Deno.readTextFile(old), "precious\n");
    await ok(["export", "--output", old, "--force", ...d]);
    assert.match(
      await Deno.readTextFile(old),
      /^\{"format":"sup-cache-export"/,
    );
    // /dev/stdout is stdout (Deno would want --allow-all to open it by name).
    const toStdout = await ok(["export", "--output", "/dev/stdout", ...d]);
    assert.match(toStdout.stdout, /^\{"format":"sup-cache-export"/);
    // No temporary file is left beside it.
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(!names.some((n) => n.endsWith(".tmp")), names.join(" "));
  }));

Deno.test("--ttl past what a Date holds is refused with a typed error naming the range; nothing is written", () =>
  withDir(async (dir) => {
    await seed(dir);
    const d = ["--data-dir", dir];
    const run = await cli([
      "set",
      "counter",
      "far",
      "x",
      "--ttl",
      "9007199254740991ms",
      ...d,
    ]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /--ttl "9007199254740991ms" is 9,007,199,254,740,991 ms, out of range: a TTL must be a whole number of milliseconds from 1 to [\d,]+ \(expiring by \+275760-09-13/,
    );
    const json = await cli([
      "set",
      "counter",
      "far",
      "x",
      "--ttl",
      "9007199254740991ms",
      "--json",
      ...d,
    ]);
    assert.equal(JSON.parse(json.stderr).error.code, "TTL_RANGE");
    assert.deepEqual((await liveKeys(dir)).sort(), ["lang", "visits"]);
    // namespaces and export still work for every namespace.
    await ok(["namespaces", ...d]);
    await ok(["export", ...d]);
    const human = await okJson<{ ttl: number }>([
      "set",
      "counter",
      "k",
      "v",
      "--ttl",
      "1h30m",
      ...d,
    ]);
    assert.equal(human.ttl, 5_400_000);
  }));

Deno.test("keys, values, errors and plugin replies reach a terminal with control characters and bidi overrides escaped; --json stays exact", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    const key = "evil\x1b]0;pwned\x07\u202Egnp\r.exe";
    const value = "red\x1b[31m\u2066text\nsecond line";
    await ok(["set", "ns", key, value, ...d]);
    // deno-lint-ignore no-control-regex
    const raw = /[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]/;

    const keys = await onTerminal(["keys", "ns", ...d]);
    assert.equal(keys.code, 0);
    assert.doesNotMatch(keys.stdout, raw);
    assert.match(keys.stdout, /evil\\u001b\]0;pwned\\u0007\\u202egnp\\r\.exe/);

    const got = await onTerminal(["get", "ns", key, ...d]);
    assert.equal(got.code, 0);
    assert.doesNotMatch(got.stdout, raw);
    assert.equal(got.stdout, "red\\u001b[31m\\u2066text\nsecond line\n");

    const missing = await onTerminal(["get", "ns", `${key}x`, ...d]);
    assert.equal(missing.code, 1);
    assert.doesNotMatch(missing.stderr, raw);

    const ns = await onTerminal(["namespaces", ...d]);
    assert.doesNotMatch(ns.stdout, raw);

    const exact = await okJson<{ keys: { key: string }[] }>([
      "keys",
      "ns",
      ...d,
    ]);
    assert.equal(exact.keys[0].key, key, "--json keeps the key exact");
    const exactValue = await okJson<{ text: string }>(["get", "ns", key, ...d]);
    assert.equal(exactValue.text, value);
    // Piped (not a terminal), get writes the value's bytes exactly.
    assert.equal((await ok(["get", "ns", key, ...d])).stdout, value);

    const reply = JSON.stringify({
      success: true,
      reply: "hi\x1b[2J\u202Ethere\nbye",
    });
    const plugin = await writeReplyPlugin(dir, "loud", reply);
    const said = await onTerminal(["message", plugin, "x", ...d]);
    assert.equal(said.code, 0, said.stderr);
    assert.equal(said.stdout, "hi\\u001b[2J\\u202ethere\nbye\n");
    const failure = JSON.stringify({
      success: false,
      error: "no\x1b[2J\u202E",
    });
    const failing = await writeReplyPlugin(dir, "fail", failure);
    const failed = await onTerminal(["message", failing, "x", ...d]);
    assert.equal(failed.code, 1);
    assert.doesNotMatch(failed.stderr, raw);
    assert.match(failed.stderr, /no\\u001b\[2J\\u202e/);
    const failedJson = await cli(["message", failing, "x", "--json", ...d]);
    assert.equal(JSON.parse(failedJson.stdout).error, "no\x1b[2J\u202E");
  }));

Deno.test("import reads a pipe, a process substitution and stdin; an empty pipe is an error, not a silent success", () =>
  withDir(async (dir) => {
    await seed(`${dir}/from`);
    const file = `${dir}/backup.jsonl`;
    await ok(["export", "--output", file, "--data-dir", `${dir}/from`]);
    const text = await Deno.readTextFile(file);

    const stdin = await okJson<{ imported: number }>(
      ["import", "-", "--data-dir", `${dir}/a`],
      { stdin: text },
    );
    assert.equal(stdin.imported, 2);
    const devStdin = await okJson<{ imported: number }>(
      ["import", "/dev/stdin", "--data-dir", `${dir}/b`],
      { stdin: text },
    );
    assert.equal(devStdin.imported, 2);

    // bash's <(...) passes /dev/fd/N, a pipe that can be read only once.
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const command = [
      Deno.execPath(),
      "run",
      ...CLI_FLAGS,
      CLI,
      "import",
      "<(cat " + quote(file) + ")",
      "--data-dir",
      `${dir}/c`,
      "--json",
    ].map((a) => a.startsWith("<(") ? a : quote(a)).join(" ");
    const out = await new Deno.Command("bash", {
      args: ["-c", command],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)).imported, 2);
    assert.deepEqual((await liveKeys(`${dir}/c`)).sort(), ["lang", "visits"]);

    const empty = await cli(["import", "-", "--data-dir", `${dir}/d`], {
      stdin: "",
    });
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /stdin: is empty/);
  }));

Deno.test("a bad import writes nothing, even when the bad line comes last; a key over a limit is skipped with its reason and the rest land", () =>
  withDir(async (dir) => {
    await seed(dir);
    const d = ["--data-dir", dir];
    const header = JSON.stringify({
      format: "sup-cache-export",
      version: 1,
      exportedAt: 0,
    });
    const entry = (key: string, expiresAt: number | null = null) =>
      JSON.stringify({
        kind: "cache",
        namespace: "bulk",
        key,
        value: "eA==",
        expiresAt,
      });
    const good = Array.from({ length: 2_500 }, (_, i) => entry(`k${i}`));
    const dbBefore = await sha(`${dir}/cache.db`);
    const bad = `${dir}/bad.jsonl`;
    await Deno.writeTextFile(
      bad,
      [header, ...good, entry("late", 9007199254740991)].join("\n"),
    );
    const run = await cli(["import", bad, ...d]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /line 2502: "expiresAt" must be null or a whole number/,
    );
    assert.equal(await sha(`${dir}/cache.db`), dbBefore, "nothing was written");
    assert.equal((await cli(["keys", "bulk", ...d])).code, 0);
    assert.match((await ok(["keys", "bulk", ...d])).stdout, /no live keys/);

    // 2,500 entries in batches; one key over the 2,048-byte limit in the middle.
    const mixed = `${dir}/mixed.jsonl`;
    const long = "x".repeat(3_000);
    await Deno.writeTextFile(
      mixed,
      [header, ...good.slice(0, 1_200), entry(long), ...good.slice(1_200)].join(
        "\n",
      ) + "\n",
    );
    const report = await okJson<{
      imported: number;
      skipped: { line: number; reason: string }[];
    }>(["import", mixed, ...d]);
    assert.equal(report.imported, 2_500);
    assert.equal(report.skipped.length, 1);
    assert.equal(report.skipped[0].line, 1_202);
    assert.match(
      report.skipped[0].reason,
      /key is 3,000 bytes; the limit is 2,048/,
    );
    const listed = await okJson<{ keys: unknown[] }>(["keys", "bulk", ...d]);
    assert.equal(listed.keys.length, 2_500);
    // Imported again: every key exists, all skipped, nothing changed.
    const again = await okJson<{ imported: number; skipped: unknown[] }>([
      "import",
      mixed,
      ...d,
    ]);
    assert.equal(again.imported, 0);
    assert.equal(again.skipped.length, 2_501);
  }));

Deno.test("a single very long line imports", () =>
  withDir(async (dir) => {
    const header = JSON.stringify({
      format: "sup-cache-export",
      version: 1,
      exportedAt: 0,
    });
    // 900 KiB of value: 1.2 MB of base64 on one line, under the 1 MiB value limit.
    const value = new Uint8Array(900 * 1024).map((_, i) => i % 251);
    const line = JSON.stringify({
      kind: "store",
      namespace: "big",
      key: "blob",
      value: value.toBase64(),
      expiresAt: null,
    });
    const file = `${dir}/big.jsonl`;
    await Deno.writeTextFile(file, `${header}\n${line}\n`);
    const report = await okJson<{ imported: number }>([
      "import",
      file,
      "--data-dir",
      dir,
    ]);
    assert.equal(report.imported, 1);
    const got = await ok(["get", "big", "blob", "--store", "--data-dir", dir]);
    assert.deepEqual(got.bytes, value);
  }));

Deno.test("--version prints the version; a missing database is exit 1 with its own code", () =>
  withDir(async (dir) => {
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
    assert.equal(
      (await ok(["--version"])).stdout,
      `sup-cache ${config.version}\n`,
    );
    assert.deepEqual(await okJson(["--version"]), { version: config.version });
    const missing = await cli(["keys", "x", "--data-dir", `${dir}/nope`]);
    assert.equal(missing.code, 1);
  }));

Deno.test("through deno task, relative paths resolve against the directory the user is in", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/work`);
    const shellEnv: Record<string, string> = { NO_COLOR: "1" };
    for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) shellEnv[name] = value;
    }
    const task = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["task", "--config", `${ROOT}/deno.json`, "sup", ...args],
        cwd: `${dir}/work`,
        stdout: "piped",
        stderr: "piped",
        // A shell's environment: no INIT_CWD from the task running this
        // test (deno task keeps an INIT_CWD it inherits, as npm does).
        clearEnv: true,
        env: shellEnv,
      }).output();
    const set = await task(["set", "n", "k", "v", "--data-dir", "data"]);
    assert.equal(set.code, 0, new TextDecoder().decode(set.stderr));
    await Deno.stat(`${dir}/work/data/cache.db`);
    const exp = await task([
      "export",
      "--output",
      "out.jsonl",
      "--data-dir",
      "data",
    ]);
    assert.equal(exp.code, 0, new TextDecoder().decode(exp.stderr));
    assert.match(await Deno.readTextFile(`${dir}/work/out.jsonl`), /"key":"k"/);
    const imp = await task([
      "import",
      "out.jsonl",
      "--data-dir",
      "copy",
      "--json",
    ]);
    assert.equal(imp.code, 0, new TextDecoder().decode(imp.stderr));
    await Deno.stat(`${dir}/work/copy/cache.db`);
  }));
