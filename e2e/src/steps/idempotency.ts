// Retried writes with an Idempotency-Key (crates/idempotency), with curl:
// a sign-up and a Greet, each sent twice with one key, are one account and
// one greeting; the key with another body is refused. Through the edge this
// also shows the header passes it.

import { randomUUID } from "node:crypto";

import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json, randomLoopback } from "../tools/curl.js";

export async function idempotency(ctx: Context): Promise<void> {
  const { report, urls, run } = ctx;
  report.section("idempotency keys (curl)");

  const email = `e2e-idem-${run}@example.com`;
  const password = `correct horse battery ${run}`;
  const signupKey = randomUUID();
  // Its own client address: the edge and auth limit sign-ups and logins per address.
  const from = randomLoopback();
  const signup = (body: unknown) =>
    curl(`${urls.auth}/auth/signup`, { json: body, headers: { "idempotency-key": signupKey }, from });

  await report.check("idempotency: a sign-up sent twice with one key is one account (201 twice, replayed)", async () => {
    const first = await signup({ email, password });
    const again = await signup({ email, password });
    expectEqual([first.status, again.status], [201, 201], "statuses (not 409 for the account just made)");
    expectEqual(again.headers["idempotent-replayed"], "true", "idempotent-replayed");
    expectEqual(json(again).user.id, json(first).user.id, "the same account");
    expect(json(again).tokens.refresh_token !== json(first).tokens.refresh_token, "a fresh token pair");
    const login = await curl(`${urls.auth}/auth/login`, { json: { email, password }, from });
    expectEqual(login.status, 200, "the account logs in");
  });

  await report.check("idempotency: the sign-up key with another body is refused (422)", async () => {
    const reply = await signup({ email: `other-${email}`, password });
    expectEqual([reply.status, json(reply).error?.code], [422, "idempotency_key_reused"], "status and code");
  });

  // One URL for every attempt: a retry is the same request.
  const url = ctx.target.url("idempotency");
  const greet = (key: string, name: string) =>
    curl(`${urls.greeter}/greeter.v1.GreeterService/Greet`, {
      json: { name, url },
      headers: {
        "connect-protocol-version": "1",
        authorization: `Bearer ${account(ctx).access}`,
        "idempotency-key": key,
      },
    });

  await report.check("idempotency: a Greet sent twice with one key is one greeting (replayed)", async () => {
    const key = randomUUID();
    const name = `Idem ${run}`;
    const first = await greet(key, name);
    const again = await greet(key, name);
    expectEqual([first.status, again.status], [200, 200], "statuses");
    expectEqual(again.headers["idempotent-replayed"], "true", "idempotent-replayed");
    expectEqual(json(again).greetingId, json(first).greetingId, "the same greeting");
    const listed = await curl(`${urls.greeter}/greeter.v1.GreeterService/ListGreetings`, {
      json: { pageSize: 100 },
      headers: { "connect-protocol-version": "1", authorization: `Bearer ${account(ctx).access}` },
    });
    const mine = (json(listed).greetings ?? []).filter((g: { name: string }) => g.name === name);
    expectEqual(mine.length, 1, "greetings with that name");
    const other = await greet(key, `${name} again`);
    expectEqual([other.status, json(other).code], [400, "invalid_argument"], "the key with another name");
  });
}
