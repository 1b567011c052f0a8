import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { goJsonObject, plainDataReply } from "../src/host/go_json.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("get_cache's byte fast path answers exactly what the Go encoder path answers", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (value) => {
      const fast = plainDataReply(value);
      const general = goJsonObject([["success", true], ["data", value, true]]);
      if (fast !== null) assert.equal(decode(fast), general);
      const plain = value.length > 0 &&
        value.every((b) =>
          b >= 0x20 && b < 0x80 && !'"\\<>&'.includes(String.fromCharCode(b))
        );
      assert.equal(
        fast !== null,
        plain,
        "fast path is taken exactly for plain printable ASCII",
      );
    }),
    { numRuns: 2000 },
  );
  assert.equal(
    decode(plainDataReply(new TextEncoder().encode("hello 42"))!),
    '{"success":true,"data":"hello 42"}',
  );
  assert.equal(plainDataReply(new Uint8Array()), null);
});
