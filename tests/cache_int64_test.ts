// Integers wider than 32 bits survive every driver: millisecond times are
// past 2^32 today, and a binding that reads INTEGER columns as 32-bit
// (jsr:@db/sqlite without int64: true) truncates them, so expiry times come
// back wrong and a key with a TTL vanishes on its first increment.
import assert from "node:assert/strict";
import { testEachDriver, text } from "./support/drivers.ts";

const HOUR = 3_600_000;

testEachDriver(
  "expiry times past 2^32 ms round-trip exactly",
  async (open) => {
    const ns = (await open({ ttl: null })).namespace("t");
    const exact = [
      Date.now() + HOUR,
      2 ** 32 + 7 + Date.now(), // past 2^32 and not a multiple of it
      2 ** 41 + 123, // year 2039
      2 ** 44 + 1, // year 2527
      8_640_000_000_000_000, // the last instant a Date holds: the upper bound
    ];
    for (const [i, expiresAt] of exact.entries()) {
      await ns.set(`k${i}`, "v", { expiresAt });
    }
    for (const [i, expiresAt] of exact.entries()) {
      const entry = await ns.getEntry(`k${i}`);
      assert.ok(entry, `k${i} is gone`);
      assert.equal(entry.expiresAt, expiresAt, `k${i}`);
    }
    // And through a ttl, which the cache turns into an absolute time.
    const before = Date.now();
    await ns.set("ttl", "v", { ttl: HOUR });
    const { expiresAt } = (await ns.getEntry("ttl"))!;
    assert.ok(
      expiresAt! >= before + HOUR && expiresAt! <= Date.now() + HOUR,
      `${expiresAt} is not an hour from now`,
    );
  },
);

testEachDriver(
  "a key with a ttl survives increment, keeping its exact expiry",
  async (open) => {
    const ns = (await open()).namespace("t");
    const expiresAt = Date.now() + HOUR + 0.5 * 2 ** 32;
    await ns.set("n", "5", { expiresAt: Math.floor(expiresAt) });
    assert.equal(await ns.increment("n"), 6);
    assert.equal(await ns.increment("n", 10), 16);
    assert.equal(text(await ns.get("n")), "16");
    assert.equal((await ns.getEntry("n"))!.expiresAt, Math.floor(expiresAt));
    // The default ttl (an hour) too.
    await ns.set("d", "1");
    assert.equal(await ns.increment("d"), 2);
    assert.equal(text(await ns.get("d")), "2");
  },
);

testEachDriver(
  "integers past 2^32 and 2^53 in values and counters stay exact",
  async (open) => {
    const ns = (await open()).namespace("t");
    await ns.set("big", String(2 ** 40));
    assert.equal(await ns.increment("big", 2 ** 33), 2 ** 40 + 2 ** 33);
    const version = (await ns.getEntry("big"))!.version;
    assert.equal(typeof version, "number");
  },
);
