// greeter over Connect, gRPC and gRPC-Web with buf curl and connect-node:
// greet through caller to a local server, list, refusals.

import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { badRequestField, errorOf, type Json, value } from "../rpc.js";
import { forgeries } from "../tools/tokens.js";

export async function greeter(ctx: Context): Promise<void> {
  const { report, target, mode } = ctx;
  // Directly, greeter asks no token; the edge demands one. Sent either way.
  const token = () => account(ctx).access;

  for (const rpc of ctx.rpcs) {
    report.section(`greeter (${rpc.name})`);
    const n = `${rpc.name}:`;
    const name = `Zoë ${rpc.name}`;
    let greeted: Json | undefined;
    const url = target.url(rpc.name.replace("/", "-"));

    await report.check(`${n} Greet checks a local URL through caller and records 200`, async () => {
      greeted = value(await rpc.call("greeter", "Greet", { name, url }, token()), "Greet");
      expectEqual(greeted.greeting, `Hello, ${name}!`, "greeting");
      expectEqual(greeted.externalStatus, 200, "externalStatus");
      expectEqual(greeted.externalError, undefined, "externalError");
      expect(/^[1-9][0-9]*$/.test(greeted.greetingId), `greetingId is a positive int64, got ${greeted.greetingId}`);
      expect(!Number.isNaN(Date.parse(greeted.createdAt)), `createdAt is a timestamp, got ${greeted.createdAt}`);
      expect(target.wasHit(url), "the local server was called");
    });

    await report.check(`${n} ListGreetings lists that greeting with its status`, async () => {
      expect(greeted, "no greeting to look for");
      const listed = value(await rpc.call("greeter", "ListGreetings", { pageSize: 100 }, token()), "ListGreetings");
      const found = (listed.greetings ?? []).find((g: Json) => g.id === greeted.greetingId);
      expect(found, `greeting ${greeted.greetingId} not among the newest 100`);
      expectEqual([found.name, found.url, found.externalStatus], [name, url, 200], "name, url, status");
    });

    if (rpc.exchanges && (rpc.usesGet || rpc.acceptsGzip)) {
      await report.check(`${n} ListGreetings went out as ${rpc.usesGet ? "GET" : "POST"}, its large answer gzip`, async () => {
        const reply = value(await rpc.call("greeter", "ListGreetings", { pageSize: 100 }, token()), "ListGreetings");
        expect((reply.greetings ?? []).length > 0, "greetings are listed");
        const last = rpc.exchanges?.at(-1);
        expectEqual(last?.method, "ListGreetings", "the last exchange");
        expectEqual(last?.httpMethod, rpc.usesGet ? "GET" : "POST", "HTTP method");
        // By now the account has more greetings than fit in 1 KiB.
        if (rpc.acceptsGzip) expectEqual(last?.encoding, "gzip", "the answer's coding");
      });
    }

    await report.check(`${n} ListGreetings refuses a negative page size and a bad page token`, async () => {
      const negative = errorOf(await rpc.call("greeter", "ListGreetings", { pageSize: -1 }, token()), "pageSize -1");
      const bad = errorOf(await rpc.call("greeter", "ListGreetings", { pageToken: "nope" }, token()), "bad token");
      expectEqual([negative.code, bad.code], ["invalid_argument", "invalid_argument"], "codes");
    });

    for (const [what, bad] of [
      ["an empty name", ""],
      ["a blank name", "   "],
      ["a control character", "Zo\u0007ë"],
      ["101 characters", "x".repeat(101)],
    ]) {
      await report.check(`${n} Greet refuses ${what}: invalid_argument, with a BadRequest naming the field`, async () => {
        const error = errorOf(await rpc.call("greeter", "Greet", { name: bad, url }, token()), "Greet");
        expectEqual(error.code, "invalid_argument", "code");
        expect(error.message.includes("name"), `the message names the field: ${error.message}`);
        expectEqual(badRequestField(error.details), "name", "the google.rpc.BadRequest detail's field");
      });
    }

    // caller tells clients one fixed message; which rule refused which address stays in its records.
    for (const [what, ssrf, says] of [
      ["a private address", "http://10.0.0.1/", "not a public address"],
      ["the cloud metadata endpoint", "http://169.254.169.254/latest/meta-data/", "not a public address"],
    ]) {
      await report.check(`${n} Greet to ${what} is refused by caller, the greeting still made`, async () => {
        const reply = value(await rpc.call("greeter", "Greet", { name, url: ssrf }, token()), "Greet");
        expectEqual(reply.greeting, `Hello, ${name}!`, "greeting");
        expectEqual(reply.externalStatus, undefined, "externalStatus (0: no call made)");
        const error: string = reply.externalError ?? "";
        expect(
          error.includes("permission_denied") && error.includes("refused") && error.includes(says),
          `externalError says the destination was refused: ${JSON.stringify(error)}`,
        );
      });
    }

    // By now this client alone has made three greetings.
    await report.check(`${n} ListGreetings pages with its next_page_token`, async () => {
      const first = value(await rpc.call("greeter", "ListGreetings", { pageSize: 1 }, token()), "page 1");
      expect(first.greetings?.length === 1 && first.nextPageToken, "page 1 has one greeting and a next token");
      const req = { pageSize: 1, pageToken: first.nextPageToken };
      const second = value(await rpc.call("greeter", "ListGreetings", req, token()), "page 2");
      expect(second.greetings?.length === 1, "page 2 has one greeting");
      expect(BigInt(second.greetings[0].id) < BigInt(first.greetings[0].id), "page 2 is older than page 1");
    });

    if (mode === "edge") {
      await report.check(`${n} Greet without a token is refused at the edge: unauthenticated`, async () => {
        const error = errorOf(await rpc.call("greeter", "Greet", { name, url }), "Greet");
        expectEqual(error.code, "unauthenticated", "code");
      });
      await report.check(`${n} Greet with a forged token is refused at the edge: unauthenticated`, async () => {
        const forged = forgeries(token())["foreign key"];
        const error = errorOf(await rpc.call("greeter", "Greet", { name, url }, forged), "Greet");
        expectEqual(error.code, "unauthenticated", "code");
      });
    }
  }
}
