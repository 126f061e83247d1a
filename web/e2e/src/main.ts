// The site in a real browser against the real platform: Debian's chromium
// driven by playwright-core at WEB_URL (default http://localhost:30081, the
// edge). Every request reaches the services; nothing is intercepted. Each
// test gets a fresh browser context. Prints one line per check and
// `browser: N passed, M failed`; exits 0 only when all passed. Screenshots
// of every page go to web/screenshots/.
//
// Environment: WEB_URL, CHROMIUM (default /usr/bin/chromium), SCREENSHOTS,
// LANG_URL (lang's own port, default http://127.0.0.1:3000), and
// E2E_ADMIN_PASSWORD_FILE (devstack's local admin; default
// ../.devstack/admin-password, as e2e/ reads it).

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { Api } from "./api.js";
import { launch, Tab } from "./browser.js";
import { expect, Report } from "./report.js";

const WEB_URL = (process.env.WEB_URL ?? "http://localhost:30081").replace(/\/$/, "");
const SHOTS = process.env.SCREENSHOTS ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../screenshots");
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PASSWORD = `correct horse battery ${RUN}`;
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const LANG_URL = process.env.LANG_URL ?? "http://127.0.0.1:3000";
const ADMIN = "admin@platform.localhost";
const ADMIN_PASSWORD_FILE =
  process.env.E2E_ADMIN_PASSWORD_FILE || resolve(dirname(fileURLToPath(import.meta.url)), "../../../.devstack/admin-password");

const api = new Api(WEB_URL);
const report = new Report();
let accounts = 0;

/** A fresh address for this run; `what` shows in the address, for reading auth's logs. */
function email(what: string): string {
  return `web-${RUN}-${what}-${++accounts}@example.com`;
}

/** An account made through the API (not through the form under test). */
async function account(what: string): Promise<string> {
  const address = email(what);
  await api.signup(address, PASSWORD);
  return address;
}

/** Signs the context in the way the site's login does, without spending the browser's login budget. */
async function seedSession(tab: Tab, address: string, password = PASSWORD): Promise<void> {
  await tab.context.addCookies(await api.sessionCookies(address, password));
}

let browser: Browser;

/** One test: a fresh context, closed (and explained on failure) whatever happens. */
async function test(name: string, body: (tab: Tab) => Promise<void>): Promise<void> {
  const slug = name.split(":")[0];
  await report.check(name, async () => {
    const tab = await Tab.open(browser, WEB_URL, SHOTS, slug);
    try {
      await body(tab);
    } catch (e) {
      await tab.shot("failure").catch(() => undefined);
      const log = tab.log.slice(-8).join(" | ");
      if (e instanceof Error && log) e.message += ` [page log: ${log}]`;
      throw e;
    } finally {
      await tab.close();
    }
  });
}

const greetingShown = (tab: Tab, text: string) => tab.page.getByTestId("greeting").filter({ hasText: text }).waitFor();

async function greet(tab: Tab, name: string): Promise<void> {
  await tab.page.getByLabel("Name", { exact: true }).fill(name);
  await tab.page.getByRole("button", { name: "Greet", exact: true }).click();
  await greetingShown(tab, `Hello, ${name}!`);
}

async function main(): Promise<number> {
  console.log(`browser: run ${RUN} against ${WEB_URL} with ${process.env.CHROMIUM ?? "/usr/bin/chromium"}`);
  browser = await launch();
  try {
    await scenarios();
  } finally {
    await browser.close();
  }
  console.log(report.summary());
  return report.failed.length === 0 ? 0 : 1;
}

async function scenarios(): Promise<void> {
  await test("site: served with the CSP, deep links answer the app", async (tab) => {
    for (const path of ["/login", "/history"]) {
      const response = await tab.page.goto(WEB_URL + path);
      expect(response?.status() === 200, `${path}: status ${response?.status()}`);
      const sent = (response?.headers()["content-security-policy"] ?? "").split(";").map((d) => d.trim()).filter(Boolean);
      const want = CSP.split(";").map((d) => d.trim());
      const missing = want.filter((d) => !sent.includes(d));
      expect(missing.length === 0, `${path}: the CSP lacks ${missing.join(", ")} (sent: ${sent.join("; ") || "none"})`);
    }
    await tab.heading("Log in");
    expect((await tab.cspViolations()).length === 0, `CSP violations: ${(await tab.cspViolations()).join("; ")}`);
  });

  const signedUp = email("signup");
  await test("sign-up: through the form, then greet and find the greeting in the history", async (tab) => {
    const { page } = tab;
    await tab.goto("/signup");
    await tab.heading("Sign up");
    await page.getByLabel("Email").fill(signedUp);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByText("Strong enough: it meets every rule.").waitFor();
    await page.getByRole("button", { name: "Create account" }).click();
    await tab.heading("Greet");
    const signup = tab.sent("/auth/signup")[0];
    expect(signup?.headers["session-mode"] === "cookie", `sign-up without Session-Mode: cookie: ${JSON.stringify(signup?.headers)}`);
    expect(/^[0-9a-f-]{36}$/.test(signup.headers["idempotency-key"] ?? ""), "sign-up without an Idempotency-Key");
    const [cookie] = await tab.refreshCookies();
    expect(cookie, "no refresh_token cookie after sign-up");
    expect(cookie.httpOnly && cookie.secure && cookie.sameSite === "Strict", `cookie attributes: ${JSON.stringify(cookie)}`);

    // An empty URL: greeter's default. Its status or the call's error is shown, either is fine.
    const name = `Browser ${RUN}`;
    await greet(tab, name);
    const external = page.locator('[data-testid="external-status"], [data-testid="external-error"]');
    expect(((await external.first().textContent()) ?? "").trim(), "neither an external status nor an error shown");
    const call = tab.sent("/greeter.v1.GreeterService/Greet")[0];
    expect(/^Bearer ey/.test(call?.headers.authorization ?? ""), "Greet without a bearer token");
    expect(call.headers["idempotency-key"], "Greet without an idempotency-key");
    await tab.shot("greet-result");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
    await tab.heading("History");
    await page.locator("[data-greeting-id]").first().filter({ hasText: `Hello, ${name}!` }).waitFor();
    await tab.shot("history");
    await tab.expectNoTokensExposed([cookie.value]);
  });

  await test("login: through the form; a reload keeps the session with a cookie-mode refresh", async (tab) => {
    const { page } = tab;
    await tab.goto("/login");
    await tab.heading("Log in");
    await page.getByLabel("Email").fill(signedUp);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await tab.heading("Greet");
    await page.getByText(`Signed in as ${signedUp}`).waitFor();
    expect(tab.sent("/auth/login")[0]?.headers["session-mode"] === "cookie", "login without Session-Mode: cookie");
    const reloaded = Date.now();
    await page.reload();
    await tab.heading("Greet");
    const refresh = tab.sent("/auth/refresh", reloaded);
    expect(refresh.length >= 1, "no /auth/refresh after the reload");
    expect(refresh[0].method === "POST" && refresh[0].headers["session-mode"] === "cookie", "the refresh was not cookie mode");
  });

  await test("history: a greeting made elsewhere appears live, heartbeats unseen", async (tab) => {
    const address = await account("live");
    await seedSession(tab, address);
    await tab.goto("/history");
    await tab.heading("History");
    await tab.page.getByText("Live: new greetings appear at the top.").waitFor();
    await tab.page.getByText(/No greetings yet/).waitFor();
    const token = await api.accessToken(address, PASSWORD);
    const id = await api.greet(token, `Live ${RUN}`);
    const first = tab.page.locator("[data-greeting-id]").first();
    await first.filter({ hasText: `Hello, Live ${RUN}!` }).waitFor();
    expect((await first.getAttribute("data-greeting-id")) === id, "the new greeting is not at the top");
    expect(tab.sent("/greeter.v1.GreeterService/WatchGreetings").length >= 1, "no WatchGreetings request");
  });

  await test("login: repeated bad logins end in a 429 with the time to wait", async (tab) => {
    // auth allows 5 failed logins per account per window. Four fail from the
    // suite's own address; the form makes the fifth (401) and the sixth (429).
    const address = await account("throttled");
    for (let i = 0; i < 4; i++) expect((await api.failedLogin(address)) === 401, "a failed login was not 401");
    const { page } = tab;
    await tab.goto("/login");
    await tab.heading("Log in");
    await page.getByLabel("Email").fill(address);
    await page.getByLabel("Password").fill("not the password at all");
    const submit = page.getByRole("button", { name: "Log in", exact: true });
    await submit.click();
    await page.getByRole("alert").filter({ hasText: "The email or password is incorrect." }).waitFor();
    await submit.click();
    const alert = page.getByRole("alert").filter({ hasText: "Too many attempts" });
    await alert.waitFor();
    const text = (await alert.textContent()) ?? "";
    expect(/^Too many attempts: try again in \d+ (second|minute)s?\.$/.test(text.trim()), `the 429 message: ${text}`);
    await tab.axe("login-429");
  });

  await test("session: an expired access token is refreshed silently (page.clock)", async (tab) => {
    await seedSession(tab, await account("expiry"));
    await tab.page.clock.install();
    await tab.goto("/greet");
    await tab.heading("Greet");
    await greet(tab, `Before ${RUN}`);
    const before = tab.sent("/greeter.v1.GreeterService/Greet")[0].headers.authorization;
    // Past the 15-minute access token, by the browser's clock; no timer fires.
    const jumped = Date.now();
    await tab.page.clock.setSystemTime(new Date(Date.now() + 16 * 60_000));
    await greet(tab, `After ${RUN}`);
    const refresh = tab.sent("/auth/refresh", jumped);
    expect(refresh.length === 1, `cookie-mode refreshes after the jump: ${refresh.length}`);
    expect(refresh[0].headers["session-mode"] === "cookie", "the refresh was not cookie mode");
    const after = tab.sent("/greeter.v1.GreeterService/Greet", jumped)[0]?.headers.authorization;
    expect(after && after !== before, "the greeting after the jump did not use a new access token");
  });

  await test("logout: ends the session; a reload shows the login page", async (tab) => {
    await seedSession(tab, await account("logout"));
    await tab.goto("/greet");
    await tab.heading("Greet");
    await tab.page.getByRole("button", { name: "Log out", exact: true }).click();
    await tab.heading("Log in");
    const logout = tab.sent("/auth/logout")[0];
    expect(logout?.headers["session-mode"] === "cookie", "logout without Session-Mode: cookie");
    expect((await tab.refreshCookies()).length === 0, "the refresh cookie survived the logout");
    await tab.page.reload();
    await tab.heading("Log in");
    await tab.goto("/history");
    await tab.heading("Log in");
  });

  await test("logout everywhere: the other browser's session ends too", async (tab) => {
    const address = await account("everywhere");
    await seedSession(tab, address);
    const other = await Tab.open(browser, WEB_URL, SHOTS, "logout-everywhere-other");
    try {
      await seedSession(other, address);
      for (const t of [tab, other]) {
        await t.goto("/greet");
        await t.heading("Greet");
      }
      await tab.page.getByRole("button", { name: "Log out everywhere" }).click();
      await tab.heading("Log in");
      const order = tab.requests.filter((r) => r.path.startsWith("/auth/logout")).map((r) => r.path);
      expect(order.join(",") === "/auth/logout-all,/auth/logout", `requests: ${order.join(", ")}`);
      expect(/^Bearer /.test(tab.sent("/auth/logout-all")[0].headers.authorization ?? ""), "logout-all without the token");
      expect((await tab.refreshCookies()).length === 0, "the refresh cookie survived");
      await other.page.reload();
      await other.heading("Log in");
    } finally {
      await other.close();
    }
  });

  await test("storage: no token in localStorage, sessionStorage or document.cookie", async (tab) => {
    await seedSession(tab, await account("storage"));
    await tab.goto("/greet");
    await tab.heading("Greet");
    await greet(tab, `Storage ${RUN}`);
    await tab.page.reload();
    await tab.heading("Greet");
    const secrets = [
      ...(await tab.refreshCookies()).map((c) => c.value),
      ...tab.requests.map((r) => r.headers.authorization?.replace(/^Bearer /, "")).filter((t): t is string => Boolean(t)),
    ];
    expect(secrets.length >= 2, "no tokens seen to look for");
    await tab.expectNoTokensExposed(secrets);
  });

  await test("wire format: ?format=binary sends Connect binary protobuf", async (tab) => {
    await seedSession(tab, await account("binary"));
    await tab.goto("/greet?format=binary");
    await tab.heading("Greet");
    await greet(tab, `Binary ${RUN}`);
    const call = tab.sent("/greeter.v1.GreeterService/Greet")[0];
    expect(call.headers["content-type"] === "application/proto", `content-type ${call.headers["content-type"]}`);
  });

  await test("localized: gateway greets in three languages; a saved language starts the next visit", async (tab) => {
    const { page } = tab;
    const address = await account("localized");
    await seedSession(tab, address);
    await tab.goto("/localized");
    await tab.heading("Localized greeting");
    const language = page.getByLabel("Language", { exact: true });
    expect((await language.inputValue()) === "en", `no preference yet, but the picker starts at ${await language.inputValue()}`);
    const name = `Loc${RUN}`;
    await page.getByLabel("Name", { exact: true }).fill(name);
    const wanted: Array<[string, string]> = [
      ["fr", `Bonjour, ${name} !`],
      ["de", `Hallo, ${name}!`],
      ["es", `¡Hola, ${name}!`],
    ];
    for (const [code, text] of wanted) {
      await language.selectOption(code);
      await page.getByRole("button", { name: "Greet", exact: true }).click();
      const shown = page.getByTestId("localized-greeting");
      await shown.filter({ hasText: text }).waitFor();
      expect((await shown.getAttribute("lang")) === code, `the ${code} greeting is marked lang=${await shown.getAttribute("lang")}`);
      const source = (await page.getByTestId("localized-source").textContent()) ?? "";
      expect(/^(lang, just now|gateway's cache of lang's answer)$/.test(source), `${code}: source ${source}`);
    }
    const calls = tab.sent("/gateway.v1.GatewayService/LocalizedGreeting");
    expect(calls.length === 3 && calls.every((c) => /^Bearer /.test(c.headers.authorization ?? "")), `${calls.length} calls`);
    await tab.axe("localized");

    // Save Spanish; a new visit (a reload: nothing kept but the session cookie) starts from it.
    await page.getByRole("button", { name: "Save as my language" }).click();
    await page.getByText("Saved: Spanish (Español) is your language.").waitFor();
    expect(tab.sent("/lang/v1/preferences/me").some((r) => r.method === "PUT"), "no PUT of the preference");
    await page.reload();
    await tab.heading("Localized greeting");
    await page.getByLabel("Language", { exact: true }).waitFor();
    expect((await language.inputValue()) === "es", `after the reload the picker is at ${await language.inputValue()}`);
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByRole("button", { name: "Greet", exact: true }).click();
    await page.getByTestId("localized-greeting").filter({ hasText: `¡Hola, ${name}!` }).waitFor();
    await tab.shot("localized-preferred");
  });

  await test("dashboard: the live overview charts real traffic through gateway", async (tab) => {
    const { page } = tab;
    const address = await account("dashboard");
    const token = await api.accessToken(address, PASSWORD);
    for (const language of ["fr", "de", "es", "it", "pt", "nl"]) await api.localizedGreeting(token, `Dash${RUN}`, language);
    await seedSession(tab, address);
    await tab.goto("/dashboard");
    await tab.heading("Dashboard");
    await page.getByText(/^Live: a new snapshot/).waitFor();
    const users = (await page.getByTestId("user-count").textContent()) ?? "";
    expect(/^\d+$/.test(users) && Number(users) >= 1, `user count: ${users}`);
    const row = page.getByRole("table", { name: /^Per method, over the last/ }).getByRole("row", { name: /GatewayService\/LocalizedGreeting/ });
    await row.waitFor();
    const requests = Number((await row.getByRole("cell").first().textContent()) ?? "0");
    expect(requests >= 6, `LocalizedGreeting requests in the table: ${requests}`);
    // Both charts drawn on their canvases, with a LocalizedGreeting series.
    const charts = page.getByTestId("chart");
    await charts.nth(1).locator("canvas").waitFor();
    const drawn = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLCanvasElement>("[data-testid=chart] canvas")).map((canvas) => {
        const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
        return painted;
      }),
    );
    expect(drawn.length === 2 && drawn.every((n) => n > 100), `painted pixels per chart: ${drawn.join(", ")}`);
    expect((await charts.first().textContent())?.includes("GatewayService/LocalizedGreeting"), "no LocalizedGreeting series in the legend");
    expect(tab.sent("/gateway.v1.GatewayService/WatchOverview").length >= 1, "no WatchOverview request");
    await tab.axe("dashboard");
  });

  await test("admin: a translation edited in the browser shows in a localized greeting; a non-admin is refused", async (tab) => {
    const { page } = tab;
    let adminPassword: string;
    try {
      adminPassword = readFileSync(ADMIN_PASSWORD_FILE, "utf8").trim();
    } catch {
      throw new Error(`no admin password at ${ADMIN_PASSWORD_FILE}: set E2E_ADMIN_PASSWORD_FILE to devstack's <data-dir>/admin-password`);
    }
    const adminToken = await api.accessToken(ADMIN, adminPassword);
    const original = await api.translation(adminToken, "sv");
    const template = `Hej {name}, från ${RUN}!`;
    try {
      await seedSession(tab, ADMIN, adminPassword);
      await tab.goto("/translations");
      await tab.heading("Translations");
      await tab.axe("translations");
      await page.getByLabel("Language", { exact: true }).selectOption("sv");
      const field = page.getByLabel("Greeting template");
      await page.waitForFunction(
        (want) => (document.querySelector("textarea") as HTMLTextAreaElement | null)?.value === want,
        original ?? "",
      );
      await field.fill("Hej utan namn");
      await page.getByText("The template must contain {name}, where the name goes.").waitFor();
      await tab.axe("translations-invalid");
      const before = tab.requests.length;
      await page.getByRole("button", { name: "Save template" }).click();
      expect(!tab.requests.slice(before).some((r) => r.method === "PUT"), "a template without {name} was sent");
      await field.fill(template);
      await page.getByRole("button", { name: "Save template" }).click();
      await page.getByText("Saved. Localized greetings use it now.").waitFor();

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Localized" }).click();
      await tab.heading("Localized greeting");
      await page.getByLabel("Language", { exact: true }).selectOption("sv");
      await page.getByLabel("Name", { exact: true }).fill("Admin");
      await page.getByRole("button", { name: "Greet", exact: true }).click();
      await page.getByTestId("localized-greeting").filter({ hasText: `Hej Admin, från ${RUN}!` }).waitFor();
      await tab.shot("localized-edited");

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
      await tab.heading("Dashboard");
      await page.getByRole("table", { name: "Per method, over the last 15 minutes" }).waitFor();
      await tab.axe("dashboard-admin");

      // Roles: grant admin to a new account, see it in auth's audit log, revoke it again.
      const promoted = email("promoted");
      const promotedId = await api.signup(promoted, PASSWORD);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Roles" }).click();
      await tab.heading("Roles");
      await tab.axe("roles");
      await page.getByLabel("Account email").fill(promoted);
      await page.getByRole("button", { name: "Find" }).click();
      await page.getByTestId("account-roles").filter({ hasText: "Roles: none" }).waitFor();
      await page.getByRole("button", { name: "Grant admin" }).click();
      await page.getByTestId("account-roles").filter({ hasText: "Roles: admin" }).waitFor();
      await tab.axe("roles-granted");
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
      await tab.heading("Audit log");
      await page.getByRole("row").filter({ hasText: "role.granted" }).filter({ hasText: promotedId }).first().waitFor();
      await tab.axe("audit");
      await page.getByLabel("Service").selectOption("lang");
      await page.getByRole("row").filter({ hasText: "translation.put" }).filter({ hasText: "sv/greeting" }).first().waitFor();
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Roles" }).click();
      await page.getByLabel("Account email").fill(promoted);
      await page.getByRole("button", { name: "Find" }).click();
      await page.getByRole("button", { name: "Revoke admin" }).click();
      await page.getByTestId("account-roles").filter({ hasText: "Roles: none" }).waitFor();
    } finally {
      const status = await api.setTranslation(adminToken, "sv", original);
      expect(status === 200 || status === 204, `restoring sv's template: ${status}`);
    }

    // A user without the role: no link, no form, and both the edge and lang itself refuse the write.
    const address = await account("nonadmin");
    const other = await Tab.open(browser, WEB_URL, SHOTS, "admin-refused");
    try {
      await seedSession(other, address);
      for (const path of ["/roles", "/audit", "/translations"]) {
        await other.goto(path);
        await other.heading("Admins only");
      }
      expect((await other.page.getByRole("link", { name: "Translations" }).count()) === 0, "a non-admin sees the Translations link");
      expect((await other.page.getByLabel("Greeting template").count()) === 0, "a non-admin gets the form");
      await other.axe("admins-only");
    } finally {
      await other.close();
    }
    const userToken = await api.accessToken(address, PASSWORD);
    const viaEdge = await api.setTranslation(userToken, "sv", "Hacked {name}");
    const direct = await api.direct(LANG_URL).setTranslation(userToken, "sv", "Hacked {name}");
    expect(viaEdge === 403 && direct === 403, `a non-admin's PUT: edge ${viaEdge}, lang ${direct} (want 403 from both)`);
    expect((await api.translation(adminToken, "sv")) === original, "sv's template is not what it was");
  });

  await test("axe: every page signed out, at WCAG 2.1 AA", async (tab) => {
    const { page } = tab;
    await tab.goto("/login");
    await tab.heading("Log in");
    await tab.axe("login");
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await page.getByText("Enter your email.").waitFor();
    await tab.axe("login-errors");
    await tab.goto("/signup");
    await tab.heading("Sign up");
    await tab.axe("signup");
    await page.getByLabel("Email").fill("ada");
    await page.getByLabel("Password", { exact: true }).fill("password1");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("Email must contain an @").waitFor();
    await tab.axe("signup-errors");
    await tab.goto("/no-such-page");
    await tab.heading("Page not found");
    await tab.axe("not-found");
  });

  await test("axe: every page signed in, at WCAG 2.1 AA", async (tab) => {
    const { page } = tab;
    await seedSession(tab, await account("axe"));
    await tab.goto("/greet");
    await tab.heading("Greet");
    await tab.axe("greet");
    await greet(tab, `Axe ${RUN}`);
    await tab.axe("greet-result");
    await tab.goto("/history");
    await tab.heading("History");
    await page.locator("[data-greeting-id]").first().waitFor();
    await page.getByText("Live: new greetings appear at the top.").waitFor();
    await tab.axe("history");
    await tab.goto("/language");
    await tab.heading("Language");
    await page.getByLabel("Preferred language").waitFor();
    await tab.axe("language");
    await page.getByLabel("Preferred language").selectOption("fr");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor();
    await page.locator('p.greeting[lang="fr"]').waitFor();
    await tab.axe("language-saved");
    await tab.goto("/no-such-page");
    await tab.heading("Page not found");
    await tab.axe("not-found-signed-in");
  });
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`browser: ${e instanceof Error ? e.stack : String(e)}`);
    console.log(`browser: ${report.passed} passed, ${report.failed.length + 1} failed`);
    process.exit(1);
  },
);
