// read_file / list_directory stay inside the plugin's data directory.
import assert from "node:assert/strict";
import { openHost, supCall } from "./fixtures/setup.ts";

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
  assert.equal(
    await supCall(p, "list_directory", "/sub"),
    '{"success":true,"files":["inner.txt"]}',
  );
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
