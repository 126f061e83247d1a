// What the Traefik edge itself must do (deploy/edge/edge.toml): demand tokens
// on protected routes, answer CORS preflights, rate-limit credentials, and
// route nothing internal. Plain curl, so the HTTP statuses are seen as sent.

import type { Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, randomLoopback } from "../tools/curl.js";

const ORIGIN = "http://localhost:5173";

export async function edge(ctx: Context): Promise<void> {
  const { report, urls } = ctx;
  const at = (path: string) => `${urls.edge}${path}`;
  const connect = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    curl(at(path), { json: body, headers: { "connect-protocol-version": "1", ...headers } });

  report.section("edge (Traefik, curl)");
  await report.check("edge: greeter without a token is refused (401)", async () => {
    const reply = await connect("/greeter.v1.GreeterService/Greet", { name: "Zoë" });
    expectEqual(reply.status, 401, "status");
  });

  if (!ctx.skip.has("gateway")) {
    await report.check("edge: gateway LocalizedGreeting without a token is refused (401)", async () => {
      const reply = await connect("/gateway.v1.GatewayService/LocalizedGreeting", { name: "Zoë", language: "fr" });
      expectEqual(reply.status, 401, "status");
    });

    await report.check("edge: gateway Overview answers without a token (200)", async () => {
      const reply = await connect("/gateway.v1.GatewayService/Overview", {});
      expectEqual(reply.status, 200, "status");
    });
  }

  // A preflight is the edge's own answer: no upstream, no token involved.
  const preflighted = ["/greeter.v1.GreeterService/Greet", "/gateway.v1.GatewayService/Metrics", "/auth/login"];
  for (const path of preflighted) {
    await report.check(`edge: CORS preflight for ${path} is answered without a token`, async () => {
      const reply = await curl(at(path), {
        method: "OPTIONS",
        headers: {
          origin: ORIGIN,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type,connect-protocol-version,idempotency-key",
        },
      });
      expect(reply.status === 200 || reply.status === 204, `status 200 or 204, got ${reply.status}`);
      expectEqual(reply.headers["access-control-allow-origin"], ORIGIN, "access-control-allow-origin");
      const allowed = (reply.headers["access-control-allow-headers"] ?? "").toLowerCase();
      const needed = ["authorization", "content-type", "connect-protocol-version", "idempotency-key"];
      expect(needed.every((h) => allowed.includes(h)), `allow-headers: ${allowed}`);
      expect((reply.headers["access-control-allow-methods"] ?? "").includes("POST"), "allow-methods has POST");
    });
  }

  await report.check("edge: CORS allows no other origin", async () => {
    const reply = await curl(at("/lang/v1/languages"), {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "GET" },
    });
    expect(reply.headers["access-control-allow-origin"] !== "http://evil.example", "evil origin not allowed");
    expect(reply.headers["access-control-allow-origin"] !== "*", "no wildcard");
  });

  await report.check("edge: a simple cross-origin GET gets the CORS headers", async () => {
    const reply = await curl(at("/lang/v1/languages"), { headers: { origin: ORIGIN } });
    expectEqual([reply.status, reply.headers["access-control-allow-origin"]], [200, ORIGIN], "status and allow-origin");
  });

  for (const [path, how] of [
    ["/caller.v1.CallerService/Call", "POST"],
    ["/caller.v1.CallerService/ListCalls", "POST"],
    ["/auth/stats", "GET"],
    ["/auth/token", "POST"],
    ["/lang/v1/stats", "GET"],
    ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "POST"],
  ]) {
    await report.check(`edge: ${path} is not routed (404)`, async () => {
      const reply =
        how === "POST" ? await connect(path, { url: "http://127.0.0.1:1/" }) : await curl(at(path));
      expectEqual(reply.status, 404, "status");
    });
  }

  // Another loopback address is another client to the edge, so this burst
  // starves neither the rest of this run nor the next one.
  const from = randomLoopback();
  await report.check(`edge: /auth/login is rate limited (429 within 20 tries from ${from})`, async () => {
    const statuses: number[] = [];
    // A body auth refuses (400) before any password work: a 429 can only be the edge's.
    for (let i = 0; i < 20 && !statuses.includes(429); i += 1) {
      statuses.push((await curl(at("/auth/login"), { json: {}, from })).status);
    }
    expectEqual(statuses[0], 400, "the first try reaches auth");
    expect(statuses.includes(429), `a 429 among ${JSON.stringify(statuses)}`);
  });

  await report.check("edge: the credentials limit leaves that client's other routes alone", async () => {
    expectEqual((await curl(at("/lang/v1/languages"), { from })).status, 200, "status");
  });
}
