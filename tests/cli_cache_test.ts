/**
 * The cache commands of the CLI, run as real `deno run` subprocesses with
 * the documented flags against a data directory on disk.
 */
import assert from "node:assert/strict";
import { cli, ok, okJson, withDir } from "./support/cli_run.ts";

const COMMANDS = [
  "call",
  "message",
  "namespaces",
  "keys",
  "get",
  "set",
  "rm",
  "purge",
  "export",
  "import",
  "import-sup",
];

function errorJson(stderr: string): { code: string; message: string } {
  return JSON.parse(stderr).error;
}

Deno.test("--help lists every command, and every command has its own --help", async () => {
  const main = await ok(["--help"]);
  for (const name of COMMANDS) {
    assert.match(main.stdout, new RegExp(`^  ${name} `, "m"));
  }
  assert.equal(main.stderr, "");
  for (const name of COMMANDS) {
    const own = await ok([name, "--help"]);
    assert.match(own.stdout, new RegExp(`^Usage: sup-cache ${name}`));
    assert.match(own.stdout, /--data-dir DIR/);
    assert.match(own.stdout, /Examples:\n {2}sup-cache /);
  }
  assert.equal(
    (await ok(["help", "keys"])).stdout,
    (await ok(["keys", "-h"])).stdout,
  );
  assert.match((await ok(["help"])).stdout, /^sup-cache: /);
});

Deno.test("a wrong command line exits 2 with a message naming what to do", async () => {
  const cases: [string[], RegExp][] = [
    [[], /no command given; run sup-cache --help/],
    [
      ["bogus"],
      /unknown command "bogus"; the commands are: call, message, namespaces, keys/,
    ],
    [
      ["keys", "x", "--bogus"],
      /unknown option --bogus; see sup-cache <command> --help/,
    ],
    [
      ["keys", "x", "--ttl", "5m"],
      /keys does not take --ttl; see sup-cache keys --help/,
    ],
    [
      ["get", "counter"],
      /get needs <key>; usage: sup-cache get <namespace> <key>/,
    ],
    [["get", "a", "b", "c"], /"c"\] is extra/],
    [
      ["set", "a", "b", "c", "--ttl", "60"],
      /is not a duration; give numbers with units \(500ms, 30s, 5m, 2h, 1d, 1w, or combined: 1h30m\)/,
    ],
    [
      ["keys", "a", "--limit", "0"],
      /--limit "0" is not a positive whole number/,
    ],
    [["rm", "a"], /rm needs at least one key after the namespace, or --all/],
    [["rm", "a", "k", "--all"], /give no keys with it/],
    [["export", "--kind", "both"], /--kind must be cache or store/],
    [["help", "nope"], /unknown command "nope"/],
  ];
  for (const [args, message] of cases) {
    const run = await cli(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.match(run.stderr, /^sup-cache/);
    assert.equal(run.stdout, "");
  }
  const json = await cli(["bogus", "--json"]);
  assert.equal(json.code, 2);
  assert.equal(errorJson(json.stderr).code, "USAGE");
});

Deno.test("commands that read refuse a data directory without a database instead of creating one (exit 1, not 2: the command line is right)", () =>
  withDir(async (dir) => {
    for (
      const args of [
        ["namespaces"],
        ["keys", "a"],
        ["get", "a", "b"],
        ["purge"],
        ["export"],
        ["rm", "a", "b"],
      ]
    ) {
      const run = await cli([...args, "--data-dir", `${dir}/typo`]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /there is no sup-cache database at .*typo\/cache\.db; check --data-dir/,
      );
      const json = await cli([...args, "--data-dir", `${dir}/typo`, "--json"]);
      assert.equal(errorJson(json.stderr).code, "NO_DATABASE");
    }
    await assert.rejects(Deno.stat(`${dir}/typo`), Deno.errors.NotFound);
  }));

Deno.test("set then get round-trips text and binary values, and --json describes the entry", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    assert.equal(
      (await ok(["set", "counter", "visits", "41", ...d])).stdout,
      'stored 2 bytes under "visits" in cache namespace "counter"\n',
    );
    assert.equal((await ok(["get", "counter", "visits", ...d])).stdout, "41");
    const binary = new Uint8Array([0, 255, 10, 13, 0xc3, 0x28, 1]);
    await ok(["set", "images", "logo", "-", "--ttl", "never", ...d], {
      stdin: binary,
    });
    assert.deepEqual((await ok(["get", "images", "logo", ...d])).bytes, binary);
    const entry = await okJson<Record<string, unknown>>([
      "get",
      "images",
      "logo",
      ...d,
    ]);
    assert.deepEqual(entry, {
      kind: "cache",
      namespace: "images",
      key: "logo",
      value: binary.toBase64(),
      text: null,
      bytes: 7,
      version: entry.version,
      expiresAt: null,
    });
    // A value that starts with "-" goes after "--".
    await ok(["set", "counter", "delta", ...d, "--", "-5"]);
    assert.equal((await ok(["get", "counter", "delta", ...d])).stdout, "-5");
    const text = await okJson<{ text: string }>([
      "get",
      "counter",
      "delta",
      ...d,
    ]);
    assert.equal(text.text, "-5");
  }));

Deno.test("set --ttl gives the entry that expiry; --json reports the ttl applied", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    const before = Date.now();
    const set = await okJson([
      "set",
      "weather",
      "berlin",
      "12°C",
      "--ttl",
      "10m",
      ...d,
    ]);
    const after = Date.now();
    assert.deepEqual(set, {
      kind: "cache",
      namespace: "weather",
      key: "berlin",
      bytes: 5,
      ttl: 600_000,
    });
    const { expiresAt } = await okJson<{ expiresAt: number }>([
      "get",
      "weather",
      "berlin",
      ...d,
    ]);
    assert.ok(expiresAt >= before + 600_000 && expiresAt <= after + 600_000);
    assert.equal(
      (await okJson<{ ttl: number }>(["set", "weather", "paris", "9", ...d]))
        .ttl,
      3_600_000,
    );
    assert.equal(
      (await okJson<{ ttl: null }>([
        "set",
        "prefs",
        "lang",
        "en",
        "--store",
        ...d,
      ])).ttl,
      null,
    );
  }));

Deno.test("get of a missing key exits 1 and says how to list the namespace", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    await ok(["set", "counter", "visits", "1", ...d]);
    const run = await cli(["get", "counter", "nope", ...d]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /no live key "nope" in cache namespace "counter" \(never written, deleted, or expired\); list what is there with: sup-cache keys counter\n$/,
    );
    const json = await cli(["get", "counter", "nope", "--json", ...d]);
    assert.equal(json.code, 1);
    assert.equal(errorJson(json.stderr).code, "NOT_FOUND");
    const spaced = await cli(["get", "my plugin", "k", ...d]);
    assert.match(spaced.stderr, /sup-cache keys 'my plugin'/);
  }));

Deno.test("the store and the cache of one name are separate keyspaces", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    await ok(["set", "settings", "lang", "en", "--store", ...d]);
    assert.equal(
      (await ok(["get", "settings", "lang", "--store", ...d])).stdout,
      "en",
    );
    const miss = await cli(["get", "settings", "lang", ...d]);
    assert.equal(miss.code, 1);
    assert.match(miss.stderr, /in cache namespace "settings"/);
    const storeMiss = await cli(["get", "settings", "nope", "--store", ...d]);
    assert.match(
      storeMiss.stderr,
      /in store namespace "settings".*sup-cache keys settings --store/,
    );
  }));

Deno.test("keys lists live keys with sizes and expiry as an aligned table; --prefix is literal; --limit pages", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    await ok(["set", "counter", "user:1", "hello", "--ttl", "5m", ...d]);
    await ok(["set", "counter", "user:22", "x", "--ttl", "never", ...d]);
    await ok(["set", "counter", "user_3", "yy", ...d]);
    await ok(["set", "counter", "line\nbreak", "z", ...d]);
    const table = (await ok(["keys", "counter", ...d])).stdout.trimEnd().split(
      "\n",
    );
    assert.match(table[0], /^KEY +BYTES {2}EXPIRES$/);
    assert.equal(table.length, 5);
    // The BYTES column is right-aligned: every row ends its number at one column.
    const end = table[0].indexOf("BYTES") + "BYTES".length;
    for (const row of table.slice(1)) assert.match(row.slice(0, end), /\d$/);
    assert.ok(
      table.some((row) => row.startsWith("line\\nbreak ")),
      "control characters are escaped",
    );
    assert.ok(table.some((row) => /^user:22 .* never$/.test(row)));
    assert.ok(table.some((row) => /^user:1 .*\(in [45]m/.test(row)));

    const prefixed = await okJson<
      {
        keys: { key: string; bytes: number; expiresAt: number | null }[];
        more: boolean;
      }
    >(
      ["keys", "counter", "--prefix", "user:", ...d],
    );
    assert.deepEqual(prefixed.keys.map((k) => [k.key, k.bytes]), [
      ["user:1", 5],
      ["user:22", 1],
    ]);
    assert.equal(prefixed.keys[1].expiresAt, null);
    assert.equal(prefixed.more, false);
    const underscore = await okJson<{ keys: { key: string }[] }>([
      "keys",
      "counter",
      "--prefix",
      "user_",
      ...d,
    ]);
    assert.deepEqual(underscore.keys.map((k) => k.key), ["user_3"]);

    const limited = await okJson<{ keys: unknown[]; more: boolean }>([
      "keys",
      "counter",
      "--limit",
      "2",
      ...d,
    ]);
    assert.equal(limited.keys.length, 2);
    assert.equal(limited.more, true);
    const note = await ok(["keys", "counter", "--limit", "2", ...d]);
    assert.match(note.stderr, /more keys than --limit 2/);
    assert.equal(
      (await ok(["keys", "empty", ...d])).stdout,
      'no live keys in cache namespace "empty"\n',
    );
  }));

Deno.test("namespaces (and its alias plugins) reports each namespace's usage", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    await ok(["set", "counter", "visits", "41", ...d]);
    await ok(["set", "counter", "user:1", "hello", "--ttl", "5m", ...d]);
    await ok(["set", "settings", "lang", "en", "--store", ...d]);
    // An operator's get, keys and export inspect: they must not count as
    // the plugin's hits or misses.
    await ok(["get", "counter", "visits", ...d]);
    await cli(["get", "counter", "missing", ...d]);
    await ok(["keys", "counter", ...d]);
    const list = await okJson<Record<string, unknown>[]>(["namespaces", ...d]);
    assert.deepEqual(
      list.map(({ nextExpiry: _, oldest: __, ...rest }) => rest),
      [
        {
          kind: "cache",
          name: "counter",
          keys: 2,
          bytes: 19,
          hits: 0,
          misses: 0,
          evictions: 0,
        },
        {
          kind: "store",
          name: "settings",
          keys: 1,
          bytes: 6,
          hits: 0,
          misses: 0,
          evictions: 0,
        },
      ],
    );
    assert.equal(typeof list[0].nextExpiry, "number");
    assert.equal(list[1].nextExpiry, null);
    assert.equal(typeof list[0].oldest, "number");
    assert.ok((list[0].oldest as number) <= Date.now());
    assert.deepEqual(await okJson(["plugins", ...d]), list);
    const table = (await ok(["namespaces", ...d])).stdout.trimEnd().split("\n");
    assert.match(
      table[0],
      /^KIND +NAMESPACE +KEYS +BYTES +HITS +MISSES +OLDEST +NEXT EXPIRY$/,
    );
    const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`;
    assert.match(
      table[1],
      new RegExp(
        `^cache +counter +2 +19 +0 +0 +${time} \\(.* ago\\) +${time} \\(in [45]m`,
      ),
    );
    assert.match(
      table[2],
      new RegExp(`^store +settings +1 +6 +0 +0 +${time} \\(.* ago\\) +never$`),
    );
  }));

Deno.test("rm deletes keys, exits 1 naming a key that was not there, and --all empties a namespace", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    for (const k of ["a", "b", "c"]) await ok(["set", "ns", k, "v", ...d]);
    const run = await cli(["rm", "ns", "a", "nope", ...d]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, 'removed "a"\n');
    assert.match(run.stderr, /no live key "nope" in cache namespace "ns"/);
    assert.equal((await cli(["get", "ns", "a", ...d])).code, 1);
    const json = await cli(["rm", "ns", "b", "--json", ...d]);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), {
      kind: "cache",
      namespace: "ns",
      removed: ["b"],
      missing: [],
    });
    assert.deepEqual(await okJson(["rm", "ns", "--all", ...d]), {
      kind: "cache",
      namespace: "ns",
      removed: 1,
    });
    assert.equal(
      (await okJson<{ keys: unknown[] }>(["keys", "ns", ...d])).keys.length,
      0,
    );
  }));

Deno.test("purge deletes expired entries and reports the count; piped output has no progress line", () =>
  withDir(async (dir) => {
    const d = ["--data-dir", dir];
    for (const k of ["a", "b", "c"]) {
      await ok(["set", "ns", k, "v", "--ttl", "1ms", ...d]);
    }
    await ok(["set", "ns", "live", "v", ...d]);
    // Wait until the 1 ms entries are certainly past their expiry.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const run = await ok(["purge", ...d]);
    assert.equal(run.stdout, "purged 3 expired entries\n");
    assert.equal(
      run.stderr,
      "",
      "no progress output when stderr is not a terminal",
    );
    assert.deepEqual(await okJson(["purge", ...d]), { purged: 0 });
    assert.equal(
      (await okJson<{ keys: number }[]>(["namespaces", ...d]))[0].keys,
      1,
    );
  }));

Deno.test("without the documented permissions the error names the missing flag", () =>
  withDir(async (dir) => {
    await ok(["set", "a", "b", "c", "--data-dir", dir]);
    const run = await cli(["get", "a", "b", "--data-dir", dir, "--json"], {
      flags: ["--allow-write"],
    });
    assert.equal(run.code, 1);
    const error = errorJson(run.stderr);
    assert.equal(error.code, "PERMISSION");
    assert.match(error.message, /--allow-read/);
    const env = await cli(["namespaces"], {
      flags: ["--allow-read", "--allow-write"],
    });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /--allow-env=SUP_DATA_DIR,XDG_DATA_HOME,HOME/);
  }));

Deno.test("the data directory defaults to $SUP_DATA_DIR", () =>
  withDir(async (dir) => {
    await ok(["set", "a", "b", "c"], { env: { SUP_DATA_DIR: dir } });
    assert.equal((await ok(["get", "a", "b", "--data-dir", dir])).stdout, "c");
  }));
