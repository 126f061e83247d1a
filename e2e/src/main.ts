// The end-to-end suite: drives a running platform with clients written
// elsewhere (buf curl, the connect-node client generated from proto/, curl)
// and prints one line per check and a closing `e2e: N passed, N failed`.
//
// E2E_MODE=edge|direct forces the mode (default: edge when Traefik answers on
// E2E_EDGE_URL); E2E_SKIP=gateway,edge,... leaves sections out while a part
// of the platform is being built (the runner sets none).

import { type Context, createContext } from "./context.js";
import { access } from "./steps/access.js";
import { accounts } from "./steps/accounts.js";
import { deletion } from "./steps/deletion.js";
import { edge } from "./steps/edge.js";
import { events } from "./steps/events.js";
import { gateway } from "./steps/gateway.js";
import { greeter } from "./steps/greeter.js";
import { idempotency } from "./steps/idempotency.js";
import { lang } from "./steps/lang.js";
import { protocols } from "./steps/protocols.js";
import { session } from "./steps/session.js";
import { streaming } from "./steps/streaming.js";
import { expectEqual } from "./report.js";
import { curl, randomLoopback, sendFrom } from "./tools/curl.js";

async function ready(ctx: Context): Promise<void> {
  ctx.report.section("stack");
  const { urls } = ctx;
  const services: [string, string][] =
    ctx.mode === "edge"
      ? [["edge", `${urls.edge}/lang/v1/languages`]]
      : (["greeter", "gateway", "auth", "lang"] as const)
          .filter((s) => !ctx.skip.has(s))
          .map((s) => [s, `${urls[s]}/readyz`]);
  for (const [name, url] of services) {
    await ctx.report.check(`stack: ${name} answers ${url}`, async () => {
      expectEqual((await curl(url)).status, 200, "status");
    });
  }
}

const SECTIONS: [string, (ctx: Context) => Promise<void>][] = [
  ["accounts", accounts],
  ["lang", lang],
  ["access", access],
  ["greeter", greeter],
  ["idempotency", idempotency],
  ["protocols", protocols],
  ["gateway", gateway],
  ["streaming", streaming],
  ["session", session],
  ["events", events],
  ["deletion", deletion],
  ["edge", edge],
];

async function main(): Promise<number> {
  const ctx = await createContext();
  const { skip } = ctx;
  const unknown = [...skip].filter((s) => !SECTIONS.some(([name]) => name === s));
  if (unknown.length) throw new Error(`E2E_SKIP names unknown sections: ${unknown.join(", ")}`);
  const mode =
    ctx.mode === "edge" ? `through the Traefik edge at ${ctx.urls.edge}` : "direct to the services (no edge answered)";
  console.log(`e2e: run ${ctx.run}, ${mode}`);
  if (ctx.mode === "edge") {
    // The edge limits sign-ups and logins per client address: each run is a
    // new client, so runs in quick succession are not refused as one.
    const source = randomLoopback();
    sendFrom(source);
    console.log(`e2e: curl sends from ${source}`);
  }
  try {
    await ready(ctx);
    for (const [name, section] of SECTIONS) {
      if (name === "edge" && ctx.mode !== "edge") continue;
      if (skip.has(name)) ctx.report.skip(name, "left out by E2E_SKIP");
      else await section(ctx);
    }
  } finally {
    await ctx.target.close();
  }
  console.log(ctx.report.summary(mode));
  return ctx.report.failed.length === 0 && ctx.report.passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`e2e: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  },
);
