// After `vite build`: checks that dist/ works under the CSP the server sends
// (default-src 'self'; script-src 'self'; style-src 'self'; ...): no inline
// script or style, no style attributes, nothing loaded from elsewhere, no
// eval, and every asset hashed under /assets/.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const problems = [];

for (const [tag, attrs, body] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (!/\bsrc=/.test(attrs) || body.trim()) problems.push(`inline script: ${tag.slice(0, 80)}`);
}
if (/<style\b/i.test(html)) problems.push("an inline <style> element");
if (/\sstyle=/i.test(html)) problems.push("a style= attribute");
for (const [, url] of html.matchAll(/\s(?:src|href)="([^"]+)"/g)) {
  if (!url.startsWith("/")) problems.push(`not same-origin: ${url}`);
  else if (!/^\/assets\/[\w.-]+-[\w-]{8}\.(js|css)$/.test(url) && url !== "/favicon.svg") {
    problems.push(`not a hashed asset under /assets/: ${url}`);
  }
}
for (const file of readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js"))) {
  const js = readFileSync(join(dist, "assets", file), "utf8");
  if (/\bnew Function\s*\(|[^\w.$]eval\s*\(/.test(js)) problems.push(`${file} uses eval or new Function`);
}

if (problems.length) {
  console.error(`check-dist: dist/ would break under the CSP:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("check-dist: dist/index.html and its assets fit the CSP");
