// One "bot instance" for the multi-process test: increments a counter in
// the store namespace "bots" N times through the Redis cluster, then exits.
import { RedisBackend } from "../../src/storage/redis/backend.ts";

const [nodes, times] = Deno.args;
const b = await RedisBackend.open({ cluster: JSON.parse(nodes) });
try {
  for (let i = 0; i < Number(times); i++) {
    const r = await b.increment({
      space: 1,
      ns: "bots",
      key: "messages",
      by: 1,
      keySize: 8,
      expiresAt: null,
      now: Date.now(),
      quota: null,
    });
    if (r.kind !== "ok") throw new Error(`increment: ${r.kind}`);
  }
} finally {
  await b.close();
}
