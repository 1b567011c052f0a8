// File access from plugins under attack (issue: read_file/list_directory):
// FIFOs, device nodes, huge sparse files, hard links and symlink swaps
// racing the reads. The plugin host runs in a child process, so a hang or a
// crash is seen (and bounded) from here; the race runs both with broad
// flags and with the narrow flags the docs recommend.
import assert from "node:assert/strict";
import { join } from "node:path";
import { pluginDirName } from "../../src/host/files.ts";
import { writeFixture } from "../fixtures/wat.ts";
import type { Plan } from "./support/files_child.ts";
import {
  report,
  scale,
  spawnDeno,
  supportScript,
  withTempDir,
} from "./support/common.ts";

const CHILD = supportScript("files_child.ts");
const SWAPPER = supportScript("swap_child.ts");
const EXTISM_ENV = "EXTISM_ENABLE_WASI_OUTPUT,__MINIMATCH_TESTING_PLATFORM__";
const ROUNDS = scale(3000, 20000);
/** A hung child is killed after this long; the test then fails. */
const CHILD_LIMIT_MS = 60_000;

const PASSWD = Deno.readTextFileSync("/etc/passwd");

interface Layout {
  dataDir: string;
  wasm: string;
  /** The plugin's folder, as the host names it. */
  root: string;
}

async function layout(dir: string): Promise<Layout> {
  const dataDir = join(dir, "data");
  const wasmDir = join(dir, "wasm");
  await Deno.mkdir(wasmDir);
  const root = join(dataDir, "plugins", pluginDirName("files"));
  await Deno.mkdir(root, { recursive: true, mode: 0o700 });
  return { dataDir, wasm: await writeFixture(wasmDir, "bridge"), root };
}

/**
 * The host's permission modes: the narrow flags the docs recommend, broad
 * ones, and --allow-all, the one mode where subfolders are served (through
 * directory handles, see src/host/files.ts).
 */
type Mode = "narrow" | "broad" | "all";
const MODES: Mode[] = ["narrow", "broad", "all"];

function flags(l: Layout, mode: Mode): string[] {
  switch (mode) {
    case "narrow":
      return [
        `--allow-read=${l.dataDir},${l.wasm},/dev/null`,
        `--allow-write=${l.dataDir},/dev/null`,
        `--allow-env=${EXTISM_ENV}`,
      ];
    case "broad":
      return ["--allow-read", "--allow-write", "--allow-env"];
    case "all":
      return ["--allow-all"];
  }
}

interface ChildOut {
  warnings: string[];
  replies?: string[];
  seen?: Record<string, number>;
}

/** Run the host child with `plan`; kill it (and fail) if it hangs. */
async function runChild(
  l: Layout,
  plan: Plan,
  mode: Mode = "broad",
): Promise<ChildOut> {
  const child = spawnDeno(CHILD, flags(l, mode), [
    l.dataDir,
    l.wasm,
    JSON.stringify(plan),
  ]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, CHILD_LIMIT_MS);
  const out = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(timedOut, false, `the host hung (killed): ${stderr}`);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function assertNoHostPath(l: Layout, warnings: string[]): void {
  for (const w of warnings) {
    assert.ok(!w.includes(l.dataDir), `host path in message: ${w}`);
  }
}

Deno.test("a FIFO, device nodes and a 3 GiB sparse file are refused without hanging or reading them", () =>
  withTempDir("files", async (dir) => {
    const l = await layout(dir);
    const mkfifo = await new Deno.Command("mkfifo", {
      args: [join(l.root, "fifo")],
    }).output();
    assert.ok(mkfifo.success, "mkfifo");
    // A device node inside the folder (mknod needs root; else skip that one).
    const mknod = await new Deno.Command("mknod", {
      args: [join(l.root, "zero"), "c", "1", "5"],
      stderr: "null",
    }).output();
    await Deno.symlink("/dev/zero", join(l.root, "zero-link"));
    const big = await Deno.open(join(l.root, "big"), {
      create: true,
      write: true,
    });
    await big.truncate(3 * 1024 ** 3);
    big.close();
    await Deno.writeTextFile(join(l.root, "ok.txt"), "fine");
    const reads = ["fifo", "zero-link", "big", "ok.txt"];
    if (mknod.success) reads.push("zero");
    for (const mode of MODES) {
      const out = await runChild(l, { reads }, mode);
      assert.deepEqual(
        out.replies,
        reads.map((r) => r === "ok.txt" ? "fine" : ""),
      );
      const log = out.warnings.join("\n");
      assert.match(log, /"fifo" refused: fifo: not a regular file/);
      assert.match(log, /"big" refused: big: .*larger than/);
      if (mknod.success) {
        assert.match(log, /"zero" refused: zero: not a regular file/);
      }
      assertNoHostPath(l, out.warnings);
    }
    report("files: special files", {
      tried: reads.length * MODES.length,
      survived: reads.length * MODES.length,
      lost: 0,
      mknod: mknod.success ? 1 : 0,
    });
  }));

Deno.test("hard links in the plugin folder are not read", () =>
  withTempDir("files", async (dir) => {
    const l = await layout(dir);
    const secret = join(dir, "secret.txt");
    await Deno.writeTextFile(secret, "secret");
    await Deno.link(secret, join(l.root, "linked.txt"));
    await Deno.writeTextFile(join(l.root, "twice.txt"), "twice");
    await Deno.link(join(l.root, "twice.txt"), join(l.root, "twice2.txt"));
    await Deno.mkdir(join(l.root, "sub"));
    await Deno.link(secret, join(l.root, "sub", "linked.txt"));
    for (const mode of MODES) {
      const out = await runChild(l, {
        reads: ["linked.txt", "twice.txt", "sub/linked.txt"],
      }, mode);
      assert.deepEqual(out.replies, ["", "", ""]);
      assert.match(out.warnings.join("\n"), /linked\.txt: .*hard link/);
      assertNoHostPath(l, out.warnings);
    }
  }));

/**
 * Race: an attacker process swaps `target` in the plugin folder between a
 * real entry and a symlink to /etc while the plugin reads through it.
 */
async function race(
  l: Layout,
  target: string,
  real: () => Promise<void>,
  evil: string,
  plan: Plan["race"] & object,
  mode: Mode,
): Promise<Record<string, number>> {
  await real();
  await Deno.symlink(evil, join(l.root, `${target}.evil`));
  const stop = join(l.dataDir, "stop");
  await Deno.remove(stop).catch(() => {});
  const swapper = spawnDeno(SWAPPER, [
    `--allow-read=${l.root},${l.dataDir}`,
    `--allow-write=${l.root}`,
  ], [l.root, target, stop]);
  try {
    const out = await runChild(l, { race: plan }, mode);
    assertNoHostPath(l, out.warnings);
    return out.seen!;
  } finally {
    await Deno.writeTextFile(stop, "");
    const s = await swapper.output();
    assert.equal(s.code, 0, new TextDecoder().decode(s.stderr));
    assert.ok(Number(new TextDecoder().decode(s.stdout)) > 0, "no swaps");
    await Deno.remove(join(l.root, `${target}.evil`));
    await Deno.remove(join(l.root, `${target}.real`), { recursive: true });
  }
}

for (const mode of MODES) {
  Deno.test(`symlink swaps racing read_file never return /etc/passwd (${mode} flags)`, () =>
    withTempDir("files", async (dir) => {
      const l = await layout(dir);
      let tried = 0, leaked = 0;
      const decoys: Record<string, number> = {};
      // A folder swapped for a symlink to /etc; a file swapped for one to /etc/passwd.
      const cases: Array<[string, () => Promise<void>, string, string]> = [
        [
          "dir",
          async () => {
            await Deno.mkdir(join(l.root, "dir.real"));
            await Deno.writeTextFile(join(l.root, "dir.real/passwd"), "decoy");
          },
          "/etc",
          "dir/passwd",
        ],
        [
          "passwd",
          async () => {
            await Deno.writeTextFile(join(l.root, "passwd.real"), "decoy");
          },
          "/etc/passwd",
          "passwd",
        ],
      ];
      for (const [target, real, evil, path] of cases) {
        const seen = await race(l, target, real, evil, {
          fn: "read_file",
          path,
          rounds: ROUNDS,
        }, mode);
        decoys[target] = 0;
        for (const [reply, n] of Object.entries(seen)) {
          tried += n;
          if (reply === PASSWD || reply.startsWith("root:")) leaked += n;
          else if (reply === "decoy") decoys[target] += n;
          else assert.equal(reply, "", `unexpected reply ${reply}`);
        }
      }
      report(`files: symlink swap race, read_file, ${mode} flags`, {
        tried,
        survived: tried - leaked,
        lost: 0,
        leaked,
        decoysTop: decoys.passwd,
        decoysSub: decoys.dir,
      });
      assert.equal(leaked, 0, `/etc/passwd returned ${leaked} times`);
      // The race let real reads through: the test exercised the open path.
      assert.ok(decoys.passwd > 0, "no read at the top level succeeded");
      if (mode === "all") {
        assert.ok(decoys.dir > 0, "no read in the subfolder succeeded");
      } else assert.equal(decoys.dir, 0, "a subfolder was served by path");
    }));

  Deno.test(`symlink swaps racing list_directory never list /etc (${mode} flags)`, () =>
    withTempDir("files", async (dir) => {
      const l = await layout(dir);
      const seen = await race(
        l,
        "dir",
        async () => {
          await Deno.mkdir(join(l.root, "dir.real"));
          await Deno.writeTextFile(join(l.root, "dir.real/passwd"), "decoy");
        },
        "/etc",
        { fn: "list_directory", path: "dir", rounds: ROUNDS },
        mode,
      );
      let tried = 0, leaked = 0, listed = 0;
      for (const [reply, n] of Object.entries(seen)) {
        tried += n;
        const r = JSON.parse(reply);
        if (r.success && r.files.join() !== "passwd") leaked += n;
        else if (r.success) listed += n;
      }
      report(`files: symlink swap race, list_directory, ${mode} flags`, {
        tried,
        survived: tried - leaked,
        lost: 0,
        leaked,
        listed,
      });
      assert.equal(leaked, 0, `/etc listed ${leaked} times`);
      if (mode === "all") {
        assert.ok(listed > 0, "the subfolder was never listed");
      }
    }));
}
