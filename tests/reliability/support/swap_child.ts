// Child of files_test.ts: the attacker. Inside the plugin's folder it keeps
// swapping `target` between a real entry (`target.real`) and a symlink out
// of the folder (`target.evil`), with plain renames, until `stop` exists.
// It prints how many swaps it made.
import { existsSync, renameSync } from "node:fs";

const [dir, target, stop] = Deno.args;
let swaps = 0;
while (!existsSync(stop)) {
  for (const variant of ["real", "evil"]) {
    renameSync(`${dir}/${target}.${variant}`, `${dir}/${target}`);
    renameSync(`${dir}/${target}`, `${dir}/${target}.${variant}`);
    swaps++;
  }
}
console.log(swaps);
