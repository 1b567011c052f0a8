// read_file / list_directory stay inside the plugin's data directory.
// Subfolders are served only where they can be opened race-free: under
// --allow-all, through directory handles (files.ts). Every test here runs
// in this process's mode, and the last one runs this whole file again in a
// child under --allow-all, so `deno task test` covers both modes.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  FileAccessError,
  listConfined,
  pluginDirName,
  readConfined,
} from "../src/host/files.ts";
import { openHost, supCall } from "./fixtures/setup.ts";

/** Whether this process may look up names under /proc/self/fd (--allow-all). */
const HANDLES = (() => {
  try {
    Deno.lstatSync("/proc/self/fd/0");
    return true;
  } catch {
    return false;
  }
})();
const SUBFOLDER =
  "only the top level of the plugin folder is served (Deno cannot open deeper paths race-free without --allow-all)";

Deno.test("read_file and list_directory are confined to <dataDir>/plugins/<name>", async () => {
  await using host = await openHost();
  const warnings: string[] = [];
  const p = await host.load("bridge", {
    name: "files:demo",
    logger: {
      debug() {},
      info() {},
      warn: (m) => warnings.push(String(m)),
      error() {},
    },
  });
  assert.equal(p.filesDir, `${host.dir}/plugins/files%3Ademo`);
  const root = p.filesDir!;
  await Deno.writeTextFile(`${root}/note.txt`, "hello\nfile");
  await Deno.mkdir(`${root}/sub`);
  await Deno.writeTextFile(`${root}/sub/inner.txt`, "inner");
  const outside = await Deno.makeTempDir({ prefix: "sup-outside-" });
  await Deno.writeTextFile(`${outside}/secret.txt`, "secret");
  await Deno.writeTextFile(`${host.dir}/plugins/sibling.txt`, "sibling");
  await Deno.symlink(outside, `${root}/escape`);
  await Deno.symlink(`${outside}/secret.txt`, `${root}/secret-link.txt`);
  await Deno.symlink(`${root}/note.txt`, `${root}/inside-link.txt`);

  assert.equal(await supCall(p, "read_file", "note.txt"), "hello\nfile");
  assert.equal(await supCall(p, "read_file", "/note.txt"), "hello\nfile"); // sup strips the leading slash
  assert.equal(await supCall(p, "read_file", "sub/../note.txt"), "hello\nfile");
  assert.equal(await supCall(p, "read_file", "inside-link.txt"), "hello\nfile");
  for (
    const escape of [
      "../sibling.txt",
      "../../cache.db",
      "sub/../../sibling.txt",
      "/etc/passwd",
      `${outside}/secret.txt`,
      "escape/secret.txt",
      "secret-link.txt",
      "missing.txt",
      "sub",
    ]
  ) {
    assert.equal(await supCall(p, "read_file", escape), "", escape);
  }
  assert.match(warnings.join("\n"), /escapes the plugin data directory/);
  assert.match(warnings.join("\n"), /through a symlink/);

  assert.equal(
    await supCall(p, "list_directory", "."),
    '{"success":true,"files":["escape","inside-link.txt","note.txt","secret-link.txt","sub"]}',
  );
  if (HANDLES) {
    assert.equal(
      await supCall(p, "list_directory", "/sub"),
      '{"success":true,"files":["inner.txt"]}',
    );
    assert.equal(await supCall(p, "read_file", "sub/inner.txt"), "inner");
  } else {
    assert.equal(
      await supCall(p, "list_directory", "/sub"),
      `{"success":false,"error":"Directory not found: sub: is a subfolder; ${SUBFOLDER}"}`,
    );
    assert.equal(await supCall(p, "read_file", "sub/inner.txt"), "");
    assert.match(warnings.join("\n"), /sub\/inner\.txt: is in a subfolder/);
  }
  assert.equal(
    await supCall(p, "list_directory", "note.txt"),
    '{"success":false,"error":"Path is not a directory"}',
  );
  for (const escape of ["..", "../..", "escape", "/../..", "nope"]) {
    const r = JSON.parse(await supCall(p, "list_directory", escape));
    assert.equal(r.success, false, escape);
    assert.match(r.error, /^Directory not found: /);
  }
  assert.equal(
    await supCall(p, "list_directory", null),
    '{"success":false,"error":"Failed to read path"}',
  );
  await Deno.remove(outside, { recursive: true });
});

Deno.test("refusals name paths relative to the plugin folder, never host paths", async () => {
  await using host = await openHost();
  const warnings: string[] = [];
  const p = await host.load("bridge", {
    name: "quiet",
    logger: {
      debug() {},
      info() {},
      warn: (m) => warnings.push(String(m)),
      error() {},
    },
  });
  const root = p.filesDir!;
  await Deno.mkdir(`${root}/sub`);
  await Deno.writeTextFile(`${root}/sub/f.txt`, "f");
  for (const path of ["missing.txt", "sub/missing.txt", "sub/f.txt/x", "sub"]) {
    assert.equal(await supCall(p, "read_file", path), "");
  }
  await supCall(p, "list_directory", "nope/deeper");
  assert.equal(warnings.length, 5);
  for (const w of warnings) {
    assert.ok(!w.includes(host.dir), w);
    assert.ok(!w.includes(root), w);
  }
  assert.match(warnings[0], /missing\.txt: no such file or directory/);
  if (HANDLES) {
    assert.match(warnings[1], /sub\/missing\.txt: no such file or directory/);
    assert.match(warnings[2], /sub\/f\.txt: not a directory/);
  } else {
    assert.match(warnings[1], /sub\/missing\.txt: is in a subfolder/);
    assert.match(warnings[2], /sub\/f\.txt: is in a subfolder/);
  }
  assert.match(warnings[3], /sub: not a regular file \(a directory\)/);
  assert.match(warnings[4], /nope: no such file or directory/);
});

Deno.test("readConfined reads at most the cap (plus one byte) and refuses larger files", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/ten.bin`, new Uint8Array(10).fill(7));
  assert.equal(readConfined(dir, "ten.bin", { maxBytes: 10 }).length, 10);
  assert.throws(
    () => readConfined(dir, "ten.bin", { maxBytes: 9 }),
    (e) =>
      e instanceof FileAccessError &&
      /ten\.bin: the file is larger than 9 bytes/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a hard link to a file outside is not read, nor a file with two names", async () => {
  const dir = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(`${outside}/secret`, "secret");
  await Deno.link(`${outside}/secret`, `${dir}/secret`);
  assert.throws(() => readConfined(dir, "secret"), /secret: .*hard link/);
  await Deno.remove(`${outside}/secret`);
  // The only name left is inside: an ordinary file again.
  assert.equal(new TextDecoder().decode(readConfined(dir, "secret")), "secret");
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(outside, { recursive: true });
});

Deno.test("symlinks inside the folder are followed only while they stay inside", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/f.txt`, "f");
  await Deno.mkdir(`${dir}/sub`);
  await Deno.writeTextFile(`${dir}/sub/g.txt`, "g");
  await Deno.symlink("f.txt", `${dir}/rel`);
  await Deno.symlink("rel", `${dir}/chain`);
  await Deno.symlink(`${dir}/f.txt`, `${dir}/abs`);
  await Deno.symlink("sub/../f.txt", `${dir}/through`);
  await Deno.symlink("sub/g.txt", `${dir}/down`);
  await Deno.symlink("../x", `${dir}/out`);
  await Deno.symlink("/etc/passwd", `${dir}/absout`);
  await Deno.symlink("loop2", `${dir}/loop1`);
  await Deno.symlink("loop1", `${dir}/loop2`);
  const read = (p: string) => new TextDecoder().decode(readConfined(dir, p));
  for (const p of ["rel", "chain", "abs", "through", "sub/../chain"]) {
    assert.equal(read(p), "f", p);
  }
  if (HANDLES) assert.equal(read("down"), "g");
  else assert.throws(() => read("down"), /sub\/g\.txt: is in a subfolder/);
  assert.throws(() => read("out"), /out of the plugin data directory/);
  assert.throws(() => read("absout"), /out of the plugin data directory/);
  assert.throws(() => read("loop1"), /too many levels of symbolic links/);
  assert.deepEqual(listConfined(dir, "sub/.."), listConfined(dir, "/"));
  if (HANDLES) {
    assert.deepEqual(listConfined(dir, "sub"), ["g.txt"]);
    // A symlink inside a subfolder resolves from that subfolder.
    await Deno.symlink("../f.txt", `${dir}/sub/up`);
    await Deno.symlink("../../x", `${dir}/sub/out`);
    await Deno.symlink(`${dir}/sub/g.txt`, `${dir}/sub/abs`);
    assert.equal(read("sub/up"), "f");
    assert.equal(read("sub/abs"), "g");
    assert.throws(() => read("sub/out"), /out of the plugin data directory/);
  } else {
    assert.throws(() => listConfined(dir, "sub"), /sub: is a subfolder/);
  }
  assert.throws(
    () => listConfined(dir, "rel"),
    /Path is not a directory/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("plugin names too long for a directory name load, hashed; short names keep their readable directory", async () => {
  assert.equal(pluginDirName("files:demo"), "files%3Ademo");
  for (const name of ["x".repeat(86), "ü".repeat(60), "y".repeat(300)]) {
    const dirName = pluginDirName(name);
    assert.ok(new TextEncoder().encode(dirName).length <= 255, dirName);
    assert.equal(pluginDirName(name), dirName); // stable
  }
  // Names sharing a long prefix still get distinct folders.
  assert.notEqual(
    pluginDirName("z".repeat(300) + "a"),
    pluginDirName("z".repeat(300) + "b"),
  );
  // The longest name that still fits is kept as it is.
  assert.equal(pluginDirName("k".repeat(255)), "k".repeat(255));
  await using host = await openHost();
  const name = "long-" + "ü".repeat(60);
  const p = await host.load("bridge", { name });
  await Deno.writeTextFile(`${p.filesDir}/n.txt`, "n");
  assert.equal(await supCall(p, "read_file", "n.txt"), "n");
});

Deno.test({
  name: "the same tests under --allow-all, where subfolders are served",
  ignore: HANDLES || Deno.env.get("SUP_FILES_CHILD") === "1",
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--quiet", fileURLToPath(import.meta.url)],
      env: { SUP_FILES_CHILD: "1" },
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    assert.equal(
      out.code,
      0,
      dec.decode(out.stdout) + dec.decode(out.stderr),
    );
    assert.match(dec.decode(out.stdout), /passed/);
  },
});
