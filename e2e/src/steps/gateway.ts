// gateway over Connect, gRPC and gRPC-Web with buf curl and connect-node:
// localized greetings from lang, the overview, the metrics, and refusals.

import { setTimeout as sleep } from "node:timers/promises";
import { account, type Context } from "../context.js";
import { adminToken } from "./access.js";
import { expect, expectEqual } from "../report.js";
import { errorOf, type Json, type RpcClient, value } from "../rpc.js";
import { forgeries } from "../tools/tokens.js";
import { LOCALIZED } from "./lang.js";

const LOCALIZED_GREETING = "/gateway.v1.GatewayService/LocalizedGreeting";

export async function gateway(ctx: Context): Promise<void> {
  const { report } = ctx;
  const token = () => account(ctx).access;
  const forged = () => forgeries(token());

  for (const rpc of ctx.rpcs) {
    report.section(`gateway (${rpc.name})`);
    const n = `${rpc.name}:`;
    const localized = (request: Json, t?: string) => rpc.call("gateway", "LocalizedGreeting", request, t);

    for (const language of ["fr", "de", "es", "ja"]) {
      const expected = LOCALIZED[language];
      await report.check(`${n} LocalizedGreeting in ${language} is ${JSON.stringify(expected)}`, async () => {
        const reply = value(await localized({ name: "Zoë", language }, token()), "LocalizedGreeting");
        expectEqual([reply.greeting, reply.language, reply.fallback], [expected, language, undefined], "reply");
        const fresh = ["SOURCE_UPSTREAM", "SOURCE_CACHE"].includes(reply.source);
        expect(fresh, `source is lang or the gateway's cache, got ${reply.source}`);
      });
    }

    await report.check(`${n} LocalizedGreeting in an unknown language falls back to English`, async () => {
      const reply = value(await localized({ name: "Zoë", language: "xx" }, token()), "LocalizedGreeting");
      expectEqual([reply.greeting, reply.language, reply.fallback], [LOCALIZED.en, "en", true], "reply");
    });

    await report.check(`${n} LocalizedGreeting refuses an empty name: invalid_argument`, async () => {
      const error = errorOf(await localized({ name: "", language: "fr" }, token()), "LocalizedGreeting");
      expectEqual(error.code, "invalid_argument", "code");
      expect(error.message.includes("name"), `the message names the field: ${error.message}`);
    });

    await report.check(`${n} LocalizedGreeting without a token: unauthenticated`, async () => {
      const error = errorOf(await localized({ name: "Zoë", language: "fr" }), "LocalizedGreeting");
      expectEqual(error.code, "unauthenticated", "code");
    });

    // Every forgery through the in-process clients; one per buf curl protocol.
    const kinds = rpc.name.startsWith("buf-curl") ? ["foreign key"] : Object.keys(forged());
    for (const kind of kinds) {
      await report.check(`${n} LocalizedGreeting with a forged token (${kind}): unauthenticated`, async () => {
        const error = errorOf(await localized({ name: "Zoë", language: "fr" }, forged()[kind]), "LocalizedGreeting");
        expectEqual(error.code, "unauthenticated", "code");
      });
    }

    await report.check(`${n} Overview without a token lists languages but no user count`, async () => {
      const reply = value(await rpc.call("gateway", "Overview", {}), "Overview");
      const codes = (reply.languages ?? []).map((l: Json) => l.code);
      expectEqual(Object.keys(LOCALIZED).filter((c) => !codes.includes(c)), [], "missing languages");
      expectEqual(reply.languages.find((l: Json) => l.code === "fr")?.nativeName, "Français", "fr's native name");
      expectEqual(reply.userCount, undefined, "userCount");
      expectEqual(reply.unavailable ?? [], [], "unavailable parts");
    });

    await report.check(`${n} Overview with a token counts the users`, async () => {
      const reply = value(await rpc.call("gateway", "Overview", {}, token()), "Overview");
      expect(reply.userCount !== undefined && BigInt(reply.userCount) >= 1n, `userCount >= 1, got ${reply.userCount}`);
      expectEqual(reply.unavailable ?? [], [], "unavailable parts");
    });

    await report.check(`${n} Overview with a forged token: unauthenticated`, async () => {
      const error = errorOf(await rpc.call("gateway", "Overview", {}, forged()["tampered claims"]), "Overview");
      expectEqual(error.code, "unauthenticated", "code");
    });

    await report.check(`${n} Metrics reports LocalizedGreeting with its errors`, async () => {
      const row = await metricsRow(rpc, await adminToken(ctx));
      // Each client above made at least 5 OK calls and 1 invalid one that reached the gateway.
      expect(BigInt(row.requests) >= 6n, `requests >= 6, got ${row.requests}`);
      expect(BigInt(row.errors ?? 0) >= 1n, `errors >= 1, got ${row.errors}`);
      const [p50, p95, p99] = [row.p50Ms ?? 0, row.p95Ms ?? 0, row.p99Ms ?? 0];
      expect(p99 > 0 && p50 <= p95 && p95 <= p99, `latency percentiles ordered: ${JSON.stringify(row)}`);
    });

    await report.check(`${n} Metrics refuses a negative window: invalid_argument`, async () => {
      const error = errorOf(await rpc.call("gateway", "Metrics", { window: "-60s" }, await adminToken(ctx)), "Metrics");
      expectEqual(error.code, "invalid_argument", "code");
    });

    await report.check(`${n} Metrics for a non-admin: permission_denied`, async () => {
      const error = errorOf(await rpc.call("gateway", "Metrics", { window: "3600s" }, token()), "Metrics");
      expectEqual(error.code, "permission_denied", "code");
    });

    await report.check(`${n} Metrics without a token: unauthenticated`, async () => {
      const error = errorOf(await rpc.call("gateway", "Metrics", { window: "3600s" }), "Metrics");
      expectEqual(error.code, "unauthenticated", "code");
    });
  }
}

/**
 * LocalizedGreeting's row of the last hour. The gateway writes its records
 * in batches (GATEWAY_METRICS_FLUSH_MS, 1 s by default) and reuses a
 * summary for 5 s, so a just-served request may take that long to count:
 * ask a few times.
 */
async function metricsRow(rpc: RpcClient, token: string): Promise<Json> {
  let last: Json;
  for (let attempt = 0; attempt < 30; attempt += 1) {
    last = value(await rpc.call("gateway", "Metrics", { window: "3600s" }, token), "Metrics");
    expectEqual(last.window, "3600s", "window");
    const row = (last.metrics ?? []).find((m: Json) => m.method === LOCALIZED_GREETING);
    if (row && BigInt(row.requests) >= 6n) return row;
    await sleep(500);
  }
  throw new Error(`no LocalizedGreeting metrics after 15 s: ${JSON.stringify(last)}`);
}
