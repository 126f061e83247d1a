// Debian's chromium through playwright-core: one browser per run, a fresh
// context per test, and what every test needs from a page (requests seen,
// CSP violations, screenshots, axe, a scan of web storage).
//
// Nothing is intercepted or mocked: page.on("request") only watches.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect } from "./report.js";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Without background networking off, chromium's own connections are refused on a closed network.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

export interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  at: number;
}

export class Tab {
  readonly requests: Seen[] = [];
  /** Console messages and page errors, to explain a failure. */
  readonly log: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly base: string,
    private readonly shots: string,
    private readonly test: string,
  ) {}

  static async open(browser: Browser, base: string, shots: string, test: string): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    // Report CSP violations to the suite (an init script runs outside the page's CSP).
    await context.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __csp: string[] }).__csp = seen;
      document.addEventListener("securitypolicyviolation", (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const page = await context.newPage();
    const tab = new Tab(context, page, base, shots, test);
    // The headers the page set (cookies are not among them: the browser adds those).
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.origin !== new URL(base).origin) return;
      tab.requests.push({ method: request.method(), path: url.pathname, headers: request.headers(), at: Date.now() });
    });
    page.on("console", (m) => tab.log.push(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => tab.log.push(`pageerror: ${e.message}`));
    page.setDefaultTimeout(15_000);
    return tab;
  }

  async goto(path: string): Promise<void> {
    await this.page.goto(new URL(path, this.base).toString());
  }

  /** Waits for the page's h1 to read `title` (pages render after the session is restored). */
  async heading(title: string): Promise<void> {
    await this.page.getByRole("heading", { level: 1, name: title, exact: true }).waitFor();
  }

  /** Requests to `path`, optionally only those after `since`. */
  sent(path: string, since = 0): Seen[] {
    return this.requests.filter((r) => r.path === path && r.at >= since);
  }

  /** A full-page screenshot under screenshots/, named after the test and the page. */
  async shot(name: string): Promise<void> {
    mkdirSync(this.shots, { recursive: true });
    const file = `${this.test}-${name}`.replace(/[^a-z0-9-]+/gi, "-").toLowerCase();
    await this.page.screenshot({ path: join(this.shots, `${file}.png`), fullPage: true });
  }

  /** axe-core at WCAG 2.1 AA (no rule disabled), plus a screenshot of what was checked. */
  async axe(name: string): Promise<void> {
    await this.shot(name);
    const result = await new AxeBuilder({ page: this.page }).withTags(WCAG).analyze();
    const found = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`,
    );
    expect(found.length === 0, `axe on ${name}: ${found.join("; ")}`);
    const csp = await this.cspViolations();
    expect(csp.length === 0, `CSP violations on ${name}: ${csp.join("; ")}`);
  }

  async cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
  }

  /**
   * Nothing token-like in localStorage or sessionStorage (keys or values),
   * and the refresh cookie out of document.cookie's reach (HttpOnly).
   */
  async expectNoTokensExposed(secrets: string[] = []): Promise<void> {
    const exposed = await this.page.evaluate(() => {
      const dump = (s: Storage) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i)!)}`);
      return { storage: [...dump(localStorage), ...dump(sessionStorage)], cookie: document.cookie };
    });
    const jwt = /eyJ[\w-]+\.[\w-]+\.[\w-]*/;
    const tokenish = exposed.storage.filter(
      (entry) => jwt.test(entry) || /token|bearer|refresh|access|session/i.test(entry) || secrets.some((s) => entry.includes(s)),
    );
    expect(tokenish.length === 0, `web storage holds token-like entries: ${tokenish.join(", ")}`);
    expect(!/refresh_token/.test(exposed.cookie), `document.cookie shows the refresh cookie: ${exposed.cookie}`);
    for (const s of secrets) expect(!exposed.cookie.includes(s), "document.cookie holds a token");
  }

  /** The refresh cookie as the browser keeps it (read from outside the page). */
  async refreshCookies() {
    return (await this.context.cookies(this.base + "/auth/refresh")).filter((c) => c.name === "refresh_token");
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
