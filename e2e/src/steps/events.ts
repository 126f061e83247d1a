// Events between services (crates/events), with curl, through the edge when
// it runs: a sign-up reaches gateway's user projection while auth is asked
// nothing, and a changed translation reaches gateway's answer at once, not
// after its 30 s cache TTL. The delays are printed.

import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json, randomLoopback } from "../tools/curl.js";
import { eventually as waitFor } from "../tools/wait.js";
import { adminToken } from "./access.js";

/** Generous: events move in well under a second on a quiet machine. */
const PATIENCE_MS = 20_000;
/** gateway's default cache TTL: an eviction must beat it by far. */
const CACHE_TTL_MS = 30_000;

export async function events(ctx: Context): Promise<void> {
  const { report, urls, run } = ctx;
  report.section("events (curl)");
  const connect = (method: string, body: unknown, token?: string) =>
    curl(`${urls.gateway}/gateway.v1.GatewayService/${method}`, {
      json: body,
      headers: { "connect-protocol-version": "1", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
  const userCount = async (): Promise<number | undefined> => {
    const reply = await connect("Overview", {}, account(ctx).access);
    expectEqual(reply.status, 200, `Overview status (${reply.body})`);
    const count = json(reply).userCount;
    return count === undefined ? undefined : Number(count);
  };
  const eventually = <T>(what: string, probe: () => Promise<T | undefined>) => waitFor(what, PATIENCE_MS, probe);
  // auth's own metrics, straight from its port (the edge does not route them).
  const authMetrics = process.env.E2E_AUTH_URL || "http://127.0.0.1:8090";
  const statsCalls = async (): Promise<number> => {
    const text = (await curl(`${authMetrics}/metrics`)).body;
    return text
      .split("\n")
      .filter((l) => l.startsWith("rpc_requests_total{") && l.includes('method="GET /auth/stats"'))
      .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  };

  await report.check("events: a sign-up raises Overview's user count; auth's stats are not asked", async () => {
    const [before] = await eventually("a user count", userCount);
    const statsBefore = await statsCalls();
    const email = `e2e-events-${run}@example.com`;
    const signup = await curl(`${urls.auth}/auth/signup`, {
      json: { email, password: `correct horse battery ${run}` },
      from: randomLoopback(),
    });
    expectEqual(signup.status, 201, "sign-up status");
    const [after, waited] = await eventually("the new user counted", async () => {
      const n = await userCount();
      return n !== undefined && n > before ? n : undefined;
    });
    console.log(`      user.registered reached gateway's Overview ${waited} ms after the sign-up (${before} → ${after})`);
    expectEqual(after, before + 1, "user count");
    expectEqual(await statsCalls(), statsBefore, "GET /auth/stats calls on auth");
  });

  await report.check("events: a changed translation reaches gateway's answer well inside its cache TTL", async () => {
    const admin = await adminToken(ctx);
    const at = `${urls.lang}/lang/v1/translations/it/greeting`;
    const original = await curl(at, { headers: { authorization: `Bearer ${admin}` } });
    expectEqual(original.status, 200, `the Italian translation (${original.body})`);
    const template = json(original).template as string;
    const ask = async () => {
      const reply = await connect("LocalizedGreeting", { name: "Evt", language: "it" }, account(ctx).access);
      expectEqual(reply.status, 200, `LocalizedGreeting status (${reply.body})`);
      return json(reply);
    };
    const put = (t: string) =>
      curl(at, { method: "PUT", json: { template: t }, headers: { authorization: `Bearer ${admin}` } });
    await ask();
    expectEqual((await ask()).source, "SOURCE_CACHE", "the second answer's source (cached)");
    const changed = `Ciao ciao ${run}, {name}!`;
    const written = await put(changed);
    try {
      expect(written.status >= 200 && written.status < 300, `PUT status ${written.status}: ${written.body}`);
      const wanted = changed.replace("{name}", "Evt");
      const [, waited] = await eventually("the new translation from gateway", async () => {
        const reply = await ask();
        return reply.greeting === wanted ? reply : undefined;
      });
      console.log(`      translation.changed reached gateway's answer ${waited} ms after the write (cache TTL ${CACHE_TTL_MS} ms)`);
      expect(waited < CACHE_TTL_MS / 2, `served ${waited} ms after the change: expired, not evicted`);
    } finally {
      expectEqual((await put(template)).status, 200, "the original translation restored");
    }
  });
}
