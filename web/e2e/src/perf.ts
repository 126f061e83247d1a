// The site's weight and first-load time on this machine, printed, never
// asserted: the production bundle (raw and gzip, what the login page loads
// and what the dashboard adds), then for the login page and for the
// dashboard with data, 5 cold loads each in Debian's chromium through the
// edge, and their medians:
//   load:  Playwright's navigation timing (PerformanceNavigationTiming.loadEventEnd)
//   ready: when the page shows what it is for (the login form; the
//          dashboard's table of figures and both charts painted), by the
//          page's own clock from the start of navigation
// Environment: WEB_URL (default http://localhost:30081), CHROMIUM, RUNS (5).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Api } from "./api.js";
import { CHROMIUM, launch } from "./browser.js";

const WEB_URL = (process.env.WEB_URL ?? "http://localhost:30081").replace(/\/$/, "");
const RUNS = Number(process.env.RUNS ?? 5);
const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "../../dist");
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function bundle(): void {
  const index = readFileSync(join(DIST, "index.html"), "utf8");
  const initial = new Set([...index.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]));
  const rows = readdirSync(join(DIST, "assets")).map((file) => {
    const bytes = readFileSync(join(DIST, "assets", file));
    return { file, raw: statSync(join(DIST, "assets", file)).size, gzip: gzipSync(bytes).length, initial: initial.has(file) };
  });
  const sum = (pick: (r: (typeof rows)[number]) => boolean) =>
    rows.filter(pick).reduce((t, r) => ({ raw: t.raw + r.raw, gzip: t.gzip + r.gzip }), { raw: 0, gzip: 0 });
  console.log("bundle (web/dist/assets):");
  for (const r of rows.sort((a, b) => b.raw - a.raw)) {
    console.log(`  ${r.file.padEnd(34)} ${kb(r.raw).padStart(10)} ${kb(r.gzip).padStart(10)} gzip${r.initial ? "  (first load)" : ""}`);
  }
  const first = sum((r) => r.initial);
  const later = sum((r) => !r.initial);
  console.log(`  first load: ${kb(first.raw)} (${kb(first.gzip)} gzip); loaded later (the dashboard): ${kb(later.raw)} (${kb(later.gzip)} gzip)`);
}

async function main(): Promise<void> {
  bundle();
  const api = new Api(WEB_URL);
  const run = Date.now().toString(36);
  const email = `perf-${run}@example.com`;
  const password = `correct horse battery ${run}`;
  await api.signup(email, password);
  const token = await api.accessToken(email, password);
  for (const language of ["fr", "de", "es", "it", "pt"]) await api.localizedGreeting(token, `Perf${run}`, language);

  const browser = await launch();
  try {
    // What "ready" waits for: every selector present, as often as asked (a function, not a string: the CSP forbids eval).
    const pages: Array<{ name: string; path: string; signedIn: boolean; ready: Array<[string, number]> }> = [
      { name: "login", path: "/login", signedIn: false, ready: [["form button[type=submit]", 1]] },
      {
        name: "dashboard with data",
        path: "/dashboard",
        signedIn: true,
        ready: [
          ["[data-testid=chart] canvas", 2],
          ["table.metrics tbody tr", 1],
        ],
      },
    ];
    console.log(`first load, ${RUNS} cold runs each (fresh browser context, no cache), ${CHROMIUM} against ${WEB_URL}:`);
    for (const p of pages) {
      const loads: number[] = [];
      const readies: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        if (p.signedIn) await context.addCookies(await api.sessionCookies(email, password));
        const page = await context.newPage();
        await page.goto(WEB_URL + p.path, { waitUntil: "load" });
        await page.waitForFunction(
          (wanted) => wanted.every(([selector, n]) => document.querySelectorAll(selector).length >= n),
          p.ready,
          { timeout: 20_000 },
        );
        const ready = await page.evaluate(() => performance.now());
        const load = await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).loadEventEnd);
        loads.push(load);
        readies.push(ready);
        await context.close();
      }
      const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
      console.log(`  ${p.name.padEnd(20)} load median ${median(loads).toFixed(0)} ms [${f(loads)}]; ready median ${median(readies).toFixed(0)} ms [${f(readies)}]`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`perf: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
