// The minimum Deno version check: the comparison, and the error a cache
// gives on a Deno that is too old.
import assert from "node:assert/strict";
import { DriverUnavailableError } from "../mod.ts";
import {
  checkDenoVersion,
  isAtLeast,
  MIN_DENO_VERSION,
  parseVersion,
} from "../src/storage/runtime.ts";

Deno.test("parseVersion reads major.minor.patch and ignores suffixes", () => {
  assert.deepEqual(parseVersion("2.6.4"), [2, 6, 4]);
  assert.deepEqual(parseVersion("v2.10.12"), [2, 10, 12]);
  assert.deepEqual(parseVersion("2.7.0-rc.1"), [2, 7, 0]);
  assert.deepEqual(parseVersion("2.7.0+1a2b3c4"), [2, 7, 0]);
  for (const bad of ["", "2", "2.6", "2.6.x", "canary", "2.6.4.1"]) {
    assert.equal(parseVersion(bad), null, bad);
  }
});

Deno.test("isAtLeast compares numerically, part by part", () => {
  const newer = ["2.6.4", "2.6.5", "2.6.10", "2.7.0", "2.10.0", "3.0.0"];
  const older = ["2.6.3", "2.6.0", "2.5.99", "1.46.3", "0.99.99"];
  for (const v of newer) assert.equal(isAtLeast(v, "2.6.4"), true, v);
  for (const v of older) assert.equal(isAtLeast(v, "2.6.4"), false, v);
  // Unknown formats are not refused.
  assert.equal(isAtLeast("canary", "2.6.4"), true);
});

Deno.test("checkDenoVersion throws a typed error naming both versions", () => {
  assert.equal(MIN_DENO_VERSION, "2.6.4");
  checkDenoVersion(); // this Deno
  checkDenoVersion("2.6.4");
  assert.throws(
    () => checkDenoVersion("2.6.3"),
    (err) =>
      err instanceof DriverUnavailableError &&
      err.driver === "node:sqlite" &&
      /^sup-cache needs Deno 2\.6\.4 or newer; this is Deno 2\.6\.3/.test(
        err.message,
      ) && /deno upgrade/.test(err.message),
  );
});
