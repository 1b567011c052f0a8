// A missing permission for the FFI driver is named at the top of the
// error message (not two `cause`s down), in a real `deno run` child with
// explicit flags. The checks that run before the import need neither JSR
// nor the library; the rest run where the driver itself can load.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ffiSkip } from "./support/drivers.ts";

const CHILD = fileURLToPath(new URL("./support/ffi_child.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));
const ENV = "--allow-env=DENO_SQLITE_PATH,DENO_SQLITE_LOCAL";
/** The config this test process runs under (deno.ffi.json in the FFI run). */
const CONFIG = Deno.env.get("SUP_FFI_CONFIG") ?? "deno.json";
const MIRROR = fileURLToPath(new URL("../../shared/jsr", import.meta.url));

async function child(dataDir: string, flags: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--config", CONFIG, ...flags, CHILD, dataDir],
    cwd: REPO,
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    ok: boolean;
    name?: string;
    message?: string;
  };
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sup-ffi-perm-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const read = (dir: string) => `--allow-read=${dir},${REPO},${MIRROR}`;
const write = (dir: string) => `--allow-write=${dir}`;

Deno.test("ffi driver: a missing --allow-ffi or --allow-env is named at the top of the message", () =>
  withDir(async (dir) => {
    const cases: Array<[string, string[], RegExp]> = [
      [
        "no --allow-ffi",
        [ENV],
        /^driver "ffi" needs --allow-ffi: run with --allow-ffi /,
      ],
      [
        "--allow-ffi scoped to the library",
        ["--allow-ffi=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", ENV],
        /^driver "ffi" needs --allow-ffi: .*cannot be scoped/,
      ],
      [
        "no --allow-env",
        ["--allow-ffi"],
        /^driver "ffi" needs --allow-env=DENO_SQLITE_PATH,DENO_SQLITE_LOCAL:/,
      ],
      [
        "--allow-env without DENO_SQLITE_LOCAL",
        ["--allow-ffi", "--allow-env=DENO_SQLITE_PATH"],
        /^driver "ffi" needs --allow-env=DENO_SQLITE_PATH,DENO_SQLITE_LOCAL:/,
      ],
      [
        "neither",
        [],
        /^driver "ffi" needs --allow-ffi and --allow-env=DENO_SQLITE_PATH,DENO_SQLITE_LOCAL: .*bypass every other permission/,
      ],
    ];
    for (const [what, flags, expected] of cases) {
      const r = await child(dir, [read(dir), write(dir), ...flags]);
      assert.equal(r.ok, false, what);
      assert.equal(r.name, "DriverUnavailableError", what);
      assert.match(r.message!, expected, what);
    }
  }));

Deno.test({
  name:
    `ffi driver: the documented flags work, and read on the offline copy is named when missing${
      ffiSkip ? " (skipped: jsr:@db/sqlite or --allow-ffi unavailable)" : ""
    }`,
  ignore: ffiSkip !== null,
  fn: () =>
    withDir(async (dir) => {
      const ok = await child(dir, [read(dir), write(dir), "--allow-ffi", ENV]);
      assert.deepEqual(ok, { ok: true });
      if (CONFIG !== "deno.json") {
        // The import map sends jsr:@db/sqlite to ../shared/jsr.
        const r = await child(dir, [
          `--allow-read=${dir},${REPO}`,
          write(dir),
          "--allow-ffi",
          ENV,
        ]);
        assert.equal(r.name, "DriverUnavailableError");
        assert.match(
          r.message!,
          /^driver "ffi" cannot import jsr:@db\/sqlite@0\.13: Requires read access to ".*shared\/jsr\/.*grant --allow-read on the folder/,
        );
      }
    }),
});
