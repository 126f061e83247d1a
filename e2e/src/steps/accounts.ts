// auth over REST with curl: sign-up, login, who am I, forward-auth, refusals.

import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json } from "../tools/curl.js";
import { forgeries } from "../tools/tokens.js";

export async function accounts(ctx: Context): Promise<void> {
  const { report, urls, run } = ctx;
  const auth = (path: string) => `${urls.auth}/auth/${path}`;
  const email = `e2e-${run}@example.com`;
  const password = `correct horse battery ${run}`;

  report.section("auth (REST, curl)");
  await report.check("auth: signup creates the account and logs it in (201)", async () => {
    const reply = await curl(auth("signup"), { json: { email: email.toUpperCase(), password } });
    expectEqual(reply.status, 201, "status");
    const body = json(reply);
    expectEqual(body.user.email, email, "stored email (normalised to lower case)");
    expect(body.tokens.access_token && body.tokens.refresh_token, "signup returns a token pair");
    expectEqual(reply.headers["cache-control"], "no-store", "cache-control");
    const { access_token: access, refresh_token: refresh } = body.tokens;
    ctx.account = { email, password, id: body.user.id, access, refresh };
  });

  await report.check("auth: the same email again is refused (409 email_taken)", async () => {
    const reply = await curl(auth("signup"), { json: { email, password } });
    expectEqual([reply.status, json(reply).error?.code], [409, "email_taken"], "status and code");
  });

  await report.check("auth: a weak password is refused (422 weak_password)", async () => {
    const reply = await curl(auth("signup"), { json: { email: `weak-${email}`, password: "password" } });
    expectEqual([reply.status, json(reply).error?.code], [422, "weak_password"], "status and code");
  });

  await report.check("auth: a malformed body is refused (400)", async () => {
    const reply = await curl(auth("signup"), { json: { email, password: 12345678901 } });
    expectEqual(reply.status, 400, "status");
    expect(json(reply).error?.message?.includes("password"), "the message names the field");
  });

  await report.check("auth: a wrong password is refused (401 invalid_credentials)", async () => {
    const reply = await curl(auth("login"), { json: { email, password: `${password}!` } });
    expectEqual([reply.status, json(reply).error?.code], [401, "invalid_credentials"], "status and code");
  });

  await report.check("auth: login returns a fresh token pair", async () => {
    const reply = await curl(auth("login"), { json: { email, password } });
    expectEqual(reply.status, 200, "status");
    const tokens = json(reply);
    expectEqual(tokens.token_type, "Bearer", "token_type");
    expect(tokens.expires_in > 0 && tokens.refresh_expires_in > 0, "lifetimes are positive");
    const a = account(ctx);
    expect(tokens.refresh_token !== a.refresh, "a new refresh token per login");
    ctx.account = { ...a, access: tokens.access_token, refresh: tokens.refresh_token };
  });

  await report.check("auth: /auth/me with the access token names the account", async () => {
    const a = account(ctx);
    const reply = await curl(auth("me"), { headers: { authorization: `Bearer ${a.access}` } });
    expectEqual(reply.status, 200, "status");
    expectEqual([json(reply).id, json(reply).email], [a.id, a.email], "id and email");
  });

  await report.check("auth: /auth/verify answers 200 with X-User-Id and X-User-Email", async () => {
    const a = account(ctx);
    const reply = await curl(auth("verify"), { headers: { authorization: `Bearer ${a.access}` } });
    expectEqual(reply.status, 200, "status");
    expectEqual([reply.headers["x-user-id"], reply.headers["x-user-email"]], [a.id, a.email], "identity headers");
  });

  await report.check("auth: /auth/me without a token is refused (401)", async () => {
    const reply = await curl(auth("me"));
    expectEqual(reply.status, 401, "status");
    expect(reply.headers["www-authenticate"]?.startsWith("Bearer"), "WWW-Authenticate: Bearer");
  });

  for (const [kind, token] of Object.entries(forgeries(account(ctx).access))) {
    await report.check(`auth: /auth/verify refuses a forged token (${kind}): 401`, async () => {
      const reply = await curl(auth("verify"), { headers: { authorization: `Bearer ${token}` } });
      expectEqual(reply.status, 401, "status");
      expect(!reply.headers["x-user-id"], "no identity header on a refusal");
    });
  }
}
