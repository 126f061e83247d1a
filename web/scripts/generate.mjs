// Regenerates every client under src/gen/: protoc-gen-es from ../proto (with
// the root package.json's buf) and openapi-typescript from openapi/*.json.
// src/gen/ is wiped first, so a removed proto or document leaves nothing behind.

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(web, "..");
const bin = join(web, "node_modules", ".bin");
const buf = join(root, "node_modules", ".bin", "buf");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: web, stdio: "inherit", ...opts });

if (!existsSync(buf)) {
  // The root lock cannot go through `npm ci` (see e2e/run.sh); `install --no-save` honours it.
  console.log("generate: installing buf (root package.json)");
  run("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: root });
}

rmSync(join(web, "src", "gen"), { recursive: true, force: true });
// buf finds protoc-gen-es on PATH.
run(buf, ["generate"], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });

for (const file of readdirSync(join(web, "openapi")).filter((f) => f.endsWith(".json")).sort()) {
  const out = join("src", "gen", "openapi", file.replace(/\.json$/, ".ts"));
  run(join(bin, "openapi-typescript"), [join("openapi", file), "--output", out, "--silent"]);
}
console.log("generate: src/gen/ is up to date");
