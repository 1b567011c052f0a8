/**
 * The CLI's building blocks, in process: durations, escaping, table
 * widths, the version, and line splitting that stays linear on one huge
 * line.
 */
import assert from "node:assert/strict";
import { escapeInline, escapeText } from "../src/cli/escape.ts";
import { TtlRangeError, UsageError } from "../src/cli/errors.ts";
import { formatDuration, parseTtl } from "../src/cli/format.ts";
import { renderTable } from "../src/cli/table.ts";
import { VERSION } from "../src/cli/version.ts";
import { splitLines } from "../src/transfer/lines.ts";
import { InputFormatError } from "../src/transfer/errors.ts";

Deno.test("--ttl reads human durations, refuses bare numbers and junk, and names the range when too long", () => {
  const now = 1_800_000_000_000;
  assert.equal(parseTtl("1h30m", now), 5_400_000);
  assert.equal(parseTtl("1h 30m", now), 5_400_000);
  assert.equal(parseTtl("1.5h", now), 5_400_000);
  assert.equal(parseTtl("500ms", now), 500);
  assert.equal(parseTtl("2d12h", now), 216_000_000);
  assert.equal(parseTtl("1w", now), 604_800_000);
  assert.equal(parseTtl("never", now), null);
  for (const bad of ["60", "5m3x", "abc", "-5m", "1mo", "", "1h30"]) {
    assert.throws(() => parseTtl(bad, now), UsageError, bad);
  }
  for (const far of ["9007199254740991ms", "0ms", "0.5ms"]) {
    const err = (() => {
      try {
        parseTtl(far, now);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof TtlRangeError, far);
    assert.equal(err.code, "TTL_RANGE");
    assert.equal(err.min, 1);
    assert.equal(err.max, 8_640_000_000_000_000 - now);
    assert.match(err.message, /from 1 to 8,638,200,000,000,000/);
  }
  // The longest TTL still fits a Date; one more ms does not.
  const max = 8_640_000_000_000_000 - now;
  assert.equal(parseTtl(`${max}ms`, now), max);
  assert.throws(() => parseTtl(`${max + 1}ms`, now), TtlRangeError);
});

Deno.test("durations print in two units at most", () => {
  assert.equal(formatDuration(3_552_000), "59m 12s");
  assert.equal(formatDuration(800), "800ms");
  assert.equal(formatDuration(2 * 86_400_000 + 4 * 3_600_000 + 5_000), "2d 4h");
  assert.equal(formatDuration(-5), "0ms");
});

Deno.test("control characters and bidi overrides are escaped; newlines kept only in text blocks", () => {
  const hostile = "a\nb\r\x1b[2J\u202Eevil\u2066\x07\u0085\x7f\u200f";
  const inline = escapeInline(hostile);
  assert.equal(
    inline,
    "a\\nb\\r\\u001b[2J\\u202eevil\\u2066\\u0007\\u0085\\u007f\\u200f",
  );
  assert.equal(escapeText("line 1\nline 2\t\x1b"), "line 1\nline 2\t\\u001b");
  assert.equal(escapeInline("日本語 é ok"), "日本語 é ok");
});

Deno.test("table columns line up by display width: CJK is two columns, combining marks none", () => {
  const table = renderTable(
    [{ header: "KEY" }, { header: "BYTES", right: true }],
    [["天気", "3"], ["cafe\u0301", "12"], ["plain", "7"], ["x\u202Ey", "1"]],
  );
  const lines = table.split("\n");
  assert.deepEqual(lines, [
    "KEY       BYTES",
    "天気          3",
    "cafe\u0301         12",
    "plain         7",
    "x\\u202ey      1",
  ]);
});

Deno.test("--version matches deno.json", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  assert.equal(VERSION, config.version);
});

/** A chunk that counts how many bytes the splitter's searches cover. */
class CountingChunk extends Uint8Array {
  static scanned = 0;
  override lastIndexOf(value: number, from = this.length - 1): number {
    const at = super.lastIndexOf(value, from);
    CountingChunk.scanned += from + 1 - (at === -1 ? 0 : at);
    return at;
  }
  override indexOf(value: number, from = 0): number {
    const at = super.indexOf(value, from);
    CountingChunk.scanned += (at === -1 ? this.length : at + 1) - from;
    return at;
  }
}

async function allLines(
  chunks: Iterable<Uint8Array>,
  name: string,
): Promise<{ n: number; text: string }[]> {
  const out = [];
  for await (const batch of splitLines(chunks, name)) out.push(...batch);
  return out;
}

Deno.test("splitLines searches each byte at most once, however long the line (linear by structure)", async () => {
  // One 4 MiB line in 64 KiB chunks, then short ones: a splitter that
  // re-scans the pending part of a long line for every chunk would scan
  // about 128 MiB here.
  const chunk = 65_536;
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) chunks.push(new CountingChunk(chunk).fill(0x61));
  const tail = new CountingChunk(new TextEncoder().encode("b\nlast\nx"));
  chunks.push(tail);
  CountingChunk.scanned = 0;
  const lines = (await allLines(chunks, "big.jsonl")).map((l) => [
    l.n,
    l.text.length,
  ]);
  assert.deepEqual(lines, [[1, 64 * chunk + 1], [2, 4], [3, 1]]);
  const total = 64 * chunk + tail.length;
  assert.ok(
    CountingChunk.scanned <= total,
    `searched ${CountingChunk.scanned} bytes of ${total}`,
  );
  assert.ok(CountingChunk.scanned >= 64 * chunk, "the counter counts");
});

Deno.test("splitLines: CRLF, a last line without newline, and invalid UTF-8 named by line", async () => {
  const enc = new TextEncoder();
  const out = await allLines([enc.encode("a\r\nb"), enc.encode("c\n")], "f");
  assert.deepEqual(out.map((l) => l.text), ["a", "bc"]);
  for (
    const [chunks, line] of [
      [[enc.encode("ok\n"), new Uint8Array([0xff, 10])], 2],
      [[enc.encode("ok\nfine\n"), new Uint8Array([0x61, 0xc3, 10, 0x62])], 3],
      [[new Uint8Array([0x61, 0x62, 0xe2, 0x82])], 1],
    ] as const
  ) {
    await assert.rejects(
      () => allLines(chunks, "f"),
      (err: unknown) =>
        err instanceof InputFormatError &&
        err.message === `f: line ${line} is not UTF-8 text`,
    );
  }
  // A character split across chunks is fine.
  const euro = enc.encode("€\n");
  const split = await allLines([euro.subarray(0, 1), euro.subarray(1)], "f");
  assert.deepEqual(split.map((l) => l.text), ["€"]);
});
