// Fails when the committed src/gen/ differs from what `npm run generate`
// makes now: a proto or an OpenAPI document changed without regenerating.

import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const git = (...args) => execFileSync("git", args, { cwd: web, encoding: "utf8" });

execFileSync("node", ["scripts/generate.mjs"], { cwd: web, stdio: "inherit" });

const untracked = git("ls-files", "--others", "--exclude-standard", "--", "src/gen").trim();
let stale = false;
try {
  execFileSync("git", ["diff", "--exit-code", "--stat", "--", "src/gen"], { cwd: web, stdio: "inherit" });
} catch {
  stale = true;
}
if (stale || untracked) {
  if (untracked) console.error(`check:generated: files not committed:\n${untracked}`);
  console.error(
    "check:generated: src/gen/ is stale: run `npm run generate` in web/ and commit the result " +
      "(proto/ or web/openapi/*.json changed without regenerating)",
  );
  process.exit(1);
}
console.log("check:generated: src/gen/ matches proto/ and openapi/");
