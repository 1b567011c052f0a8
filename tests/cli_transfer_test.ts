/**
 * `export` and `import` of the CLI as real subprocesses: JSON Lines with
 * base64 values, TTL kept as an absolute expiry, everything checked before
 * anything is written, and skips reported with reasons.
 */
import assert from "node:assert/strict";
import {
  CLI,
  cli,
  CLI_FLAGS,
  ok,
  okJson,
  ROOT,
  withDir,
} from "./support/cli_run.ts";

interface Line {
  kind: string;
  namespace: string;
  key: string;
  value: string;
  expiresAt: number | null;
}

function parseLines(text: string): [Record<string, unknown>, Line[]] {
  const [header, ...rest] = text.trimEnd().split("\n").map((l) =>
    JSON.parse(l)
  );
  return [header, rest];
}

async function seed(dir: string): Promise<Uint8Array> {
  const d = ["--data-dir", dir];
  const binary = new Uint8Array([0, 255, 10, 0xc3, 0x28]);
  await ok(["set", "counter", "visits", "41", "--ttl", "1h", ...d]);
  await ok(["set", "counter", "user:1", "héllo", "--ttl", "never", ...d]);
  await ok(["set", "images", "logo", "-", ...d], { stdin: binary });
  await ok(["set", "settings", "lang", "en", "--store", ...d]);
  await ok(["set", "gone", "soon", "x", "--ttl", "1ms", ...d]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return binary;
}

Deno.test("export writes a header and one base64 line per live entry, expiry absolute", () =>
  withDir(async (dir) => {
    const binary = await seed(dir);
    const before = Date.now();
    const run = await ok(["export", "--data-dir", dir]);
    const [header, lines] = parseLines(run.stdout);
    assert.equal(header.format, "sup-cache-export");
    assert.equal(header.version, 1);
    assert.ok((header.exportedAt as number) >= before);
    assert.deepEqual(lines.map((l) => [l.kind, l.namespace, l.key]), [
      ["cache", "counter", "user:1"],
      ["cache", "counter", "visits"],
      ["cache", "images", "logo"],
      ["store", "settings", "lang"],
    ], "the expired entry is left out");
    assert.deepEqual(Uint8Array.fromBase64(lines[2].value), binary);
    assert.equal(
      new TextDecoder().decode(Uint8Array.fromBase64(lines[0].value)),
      "héllo",
    );
    assert.equal(lines[0].expiresAt, null);
    const entry = await okJson<{ expiresAt: number }>([
      "get",
      "counter",
      "visits",
      "--data-dir",
      dir,
    ]);
    assert.equal(lines[1].expiresAt, entry.expiresAt);
    assert.equal(
      run.stderr,
      "exported 4 entries from 3 namespaces\n",
      "summary on stderr, no progress when piped",
    );
  }));

Deno.test("export --output, --namespace and --kind; an unknown namespace is an error", () =>
  withDir(async (dir) => {
    await seed(dir);
    const d = ["--data-dir", dir];
    const file = `${dir}/backup.jsonl`;
    const summary = await okJson(["export", "--output", file, ...d]);
    assert.deepEqual(summary, { entries: 4, namespaces: 3, output: file });
    const [, lines] = parseLines(await Deno.readTextFile(file));
    assert.equal(lines.length, 4);
    const human = await ok(["export", "-o", file, "--force", ...d]);
    assert.equal(
      human.stdout,
      `exported 4 entries from 3 namespaces to ${file}\n`,
    );

    const counter = parseLines(
      (await ok([
        "export",
        "--namespace",
        "counter",
        "--namespace",
        "settings",
        ...d,
      ])).stdout,
    )[1];
    assert.deepEqual(counter.map((l) => l.key), ["user:1", "visits", "lang"]);
    const store =
      parseLines((await ok(["export", "--kind", "store", ...d])).stdout)[1];
    assert.deepEqual(store.map((l) => l.key), ["lang"]);

    const missing = await cli(["export", "--namespace", "nope", ...d]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /no cache or store namespace "nope" in .*; list them with: sup-cache namespaces/,
    );
  }));

Deno.test("import restores an export into another data directory, bytes and TTL kept", () =>
  withDir(async (dir) => {
    const binary = await seed(dir);
    const file = `${dir}/backup.jsonl`;
    await ok(["export", "-o", file, "--data-dir", dir]);
    const target = `${dir}/target`;
    const report = await okJson(["import", file, "--data-dir", target]);
    assert.deepEqual(report, { imported: 4, skipped: [] });
    const t = ["--data-dir", target];
    assert.deepEqual((await ok(["get", "images", "logo", ...t])).bytes, binary);
    assert.equal(
      (await ok(["get", "counter", "user:1", ...t])).stdout,
      "héllo",
    );
    assert.equal(
      (await ok(["get", "settings", "lang", "--store", ...t])).stdout,
      "en",
    );
    const original = await okJson<{ expiresAt: number }>([
      "get",
      "counter",
      "visits",
      "--data-dir",
      dir,
    ]);
    const copy = await okJson<{ expiresAt: number | null }>([
      "get",
      "counter",
      "visits",
      ...t,
    ]);
    // The absolute expiry is copied exactly.
    assert.equal(copy.expiresAt, original.expiresAt);
    assert.equal(
      (await okJson<{ expiresAt: null }>(["get", "counter", "user:1", ...t]))
        .expiresAt,
      null,
    );
    // A round trip of the copy gives the same lines, expiries included.
    const again = parseLines((await ok(["export", ...t])).stdout)[1];
    const first = parseLines(await Deno.readTextFile(file))[1];
    assert.deepEqual(again, first);
  }));

Deno.test("import skips existing keys unless --overwrite, and entries that expired since the export", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    await ok(["set", "counter", "visits", "1", ...d]);
    const past = Date.now() - 1_000;
    const lines = [
      JSON.stringify({
        format: "sup-cache-export",
        version: 1,
        exportedAt: past,
      }),
      JSON.stringify({
        kind: "cache",
        namespace: "counter",
        key: "visits",
        value: btoa("99"),
        expiresAt: null,
      }),
      JSON.stringify({
        kind: "cache",
        namespace: "counter",
        key: "old",
        value: btoa("x"),
        expiresAt: past,
      }),
      JSON.stringify({
        kind: "store",
        namespace: "prefs",
        key: "lang",
        value: btoa("en"),
        expiresAt: null,
      }),
    ].join("\n") + "\n";
    const report = await okJson<
      {
        imported: number;
        skipped: { line: number; key: string; reason: string }[];
      }
    >(
      ["import", "-", ...d],
      { stdin: lines },
    );
    assert.equal(report.imported, 1);
    assert.deepEqual(report.skipped.map((s) => [s.line, s.key]), [
      [2, "visits"],
      [3, "old"],
    ]);
    assert.match(
      report.skipped[0].reason,
      /^exists \(pass --overwrite to replace it\)$/,
    );
    assert.match(report.skipped[1].reason, /^expired at \d{4}-/);
    assert.equal((await ok(["get", "counter", "visits", ...d])).stdout, "1");

    const human = await ok(["import", "-", ...d], { stdin: lines });
    assert.match(
      human.stdout,
      /^imported 0 entries, skipped 3\nSKIPPED +REASON\n/,
    );
    assert.match(human.stdout, /cache counter visits \(line 2\) +exists/);
    assert.equal(human.stderr, "");

    const forced = await okJson<{ imported: number }>([
      "import",
      "-",
      "--overwrite",
      ...d,
    ], { stdin: lines });
    assert.equal(forced.imported, 2);
    assert.equal((await ok(["get", "counter", "visits", ...d])).stdout, "99");
  }));

Deno.test("a malformed export fails with its line number and writes nothing", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    const header = JSON.stringify({
      format: "sup-cache-export",
      version: 1,
      exportedAt: 0,
    });
    const good = JSON.stringify({
      kind: "cache",
      namespace: "n",
      key: "a",
      value: "YQ==",
      expiresAt: null,
    });
    const cases: [string, RegExp][] = [
      [`${header}\n${good}\n{"kind":"cache",`, /line 3: not valid JSON/],
      [
        `${header}\n${good}\n${good.replace('"YQ=="', '"!!"')}`,
        /line 3: "value" is not valid base64/,
      ],
      [
        `${header}\n${good.replace('"cache"', '"other"')}`,
        /line 2: "kind" must be "cache" or "store"/,
      ],
      [
        `${header}\n${good.replace("null", '"tomorrow"')}`,
        /line 2: "expiresAt" must be null or a whole number of milliseconds since the epoch from 0 to 8,640,000,000,000,000/,
      ],
      [
        `${header}\n${good.replace("}", ',"extra":1}')}`,
        /line 2: unknown field "extra"/,
      ],
      [good, /line 1 is not a sup-cache export header/],
      [
        header.replace('"version":1', '"version":2'),
        /export format version 2 is not supported/,
      ],
      ["", /is empty: an export starts with a header line/],
      // Past what a JavaScript Date holds: once written, it broke
      // `namespaces` and `export` for every namespace.
      [
        `${header}\n${good}\n${good.replace("null", "9007199254740991")}`,
        /line 3: "expiresAt" must be null or a whole number .* got 9007199254740991/,
      ],
      [
        `${header}\n${good.replace("null", "8640000000000001")}`,
        /line 2: "expiresAt" must be null .* got 8640000000000001/,
      ],
      [
        `${header}\n${good.replace("null", "-1")}`,
        /line 2: "expiresAt" must be null .* got -1/,
      ],
      [`${header}\n${good.replace('"a"', '""')}`, /line 2: "key" is empty/],
      [
        `${header}\n${good.replace('"a"', '"a\\u0000b"')}`,
        /line 2: "key" contains a NUL character/,
      ],
      [
        `${header}\n${good.replace('"a"', '"\\ud800"')}`,
        /line 2: "key" contains a lone UTF-16 surrogate/,
      ],
      [
        `${header}\n${good.replace('"n"', '""')}`,
        /line 2: "namespace" is empty/,
      ],
    ];
    for (const [text, message] of cases) {
      const file = `${dir}/bad.jsonl`;
      await Deno.writeTextFile(file, text);
      const run = await cli(["import", file, "--data-dir", `${dir}/target`]);
      assert.equal(run.code, 1, text);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /bad\.jsonl/);
      const json = await cli([
        "import",
        file,
        "--data-dir",
        `${dir}/target`,
        "--json",
      ]);
      assert.equal(JSON.parse(json.stderr).error.code, "INPUT_FORMAT");
    }
    // The target was never created: the checks ran before the cache opened.
    await assert.rejects(Deno.stat(`${dir}/target`), Deno.errors.NotFound);
    await Deno.writeFile(`${dir}/bin.jsonl`, new Uint8Array([0xff, 0xfe]));
    const binary = await cli(["import", `${dir}/bin.jsonl`, ...d]);
    assert.equal(binary.code, 1);
    assert.match(binary.stderr, /is not UTF-8 text/);
    const missing = await cli(["import", `${dir}/nope.jsonl`, ...d]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.jsonl.*check the path/);
  }));

Deno.test("export piped into import moves a data directory", () =>
  withDir(async (dir) => {
    const binary = await seed(dir);
    const exported = await ok(["export", "--data-dir", dir]);
    await ok(["import", "-", "--data-dir", `${dir}/moved`], {
      stdin: exported.bytes,
    });
    assert.deepEqual(
      (await ok(["get", "images", "logo", "--data-dir", `${dir}/moved`])).bytes,
      binary,
    );
  }));

/** The "clear to end of line" sequence the progress line ends with. */
const CLEAR = "\x1b[K";

// `script` runs the command on a pseudo-terminal, the only honest way to
// see what a person at a terminal sees.
const script = await new Deno.Command("script", { args: ["--version"] })
  .output().then((o) => o.success, () => false);

Deno.test({
  name: `export and import show progress on a terminal${
    script ? "" : " (skipped: util-linux script is not installed)"
  }`,
  ignore: !script,
  fn: () =>
    withDir(async (dir) => {
      const d = ["--data-dir", dir];
      for (const k of ["a", "b", "c"]) await ok(["set", "ns", k, "v", ...d]);
      const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      const onTty = async (args: string[]) => {
        const command = [Deno.execPath(), "run", ...CLI_FLAGS, CLI, ...args]
          .map(quote).join(" ");
        const out = await new Deno.Command("script", {
          args: ["-qec", command, "/dev/null"],
          cwd: ROOT,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        return new TextDecoder().decode(out.stdout);
      };
      const exported = await onTty(["export", "-o", `${dir}/x.jsonl`, ...d]);
      assert.ok(
        /\rexporting: \d of 3$/m.test(exported.replaceAll(CLEAR, "\n")),
        exported,
      );
      assert.match(exported, /exported 3 entries from 1 namespace to /);
      const imported = await onTty([
        "import",
        `${dir}/x.jsonl`,
        "--data-dir",
        `${dir}/t`,
      ]);
      assert.ok(
        /\rimporting: \d of 3$/m.test(imported.replaceAll(CLEAR, "\n")),
        imported,
      );
      assert.ok(exported.includes(CLEAR), "the line is cleared with ESC [K");
    }),
});
