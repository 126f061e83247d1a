// Refresh rotation and logout over REST with curl.

import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json } from "../tools/curl.js";
import { eventually } from "../tools/wait.js";

/** Generous: revocations travel in milliseconds on a quiet machine. */
const PATIENCE_MS = 20_000;

export async function session(ctx: Context): Promise<void> {
  const { report, urls } = ctx;
  const auth = (path: string) => `${urls.auth}/auth/${path}`;
  const refresh = (token: string) => curl(auth("refresh"), { json: { refresh_token: token } });
  const me = (access: string) => curl(auth("me"), { headers: { authorization: `Bearer ${access}` } });

  report.section("sessions (REST, curl)");
  let first = "";
  let rotated = "";
  await report.check("auth: refresh exchanges the refresh token for a new pair", async () => {
    first = account(ctx).refresh;
    const reply = await refresh(first);
    expectEqual(reply.status, 200, "status");
    const pair = json(reply);
    expect(pair.refresh_token && pair.refresh_token !== first, "a new refresh token");
    rotated = pair.refresh_token;
    expectEqual((await me(pair.access_token)).status, 200, "the new access token works: status");
  });

  await report.check("auth: the used refresh token is refused (401 invalid_refresh_token)", async () => {
    const reply = await refresh(first);
    expectEqual([reply.status, json(reply).error?.code], [401, "invalid_refresh_token"], "status and code");
  });

  await report.check("auth: that reuse revoked the session: its newer refresh token is refused too", async () => {
    expect(rotated, "no rotated token");
    expectEqual((await refresh(rotated)).status, 401, "status");
  });

  await report.check("auth: the reused session's access token is refused too, not only at expiry", async () => {
    const [, waited] = await eventually("the access token refused", PATIENCE_MS, async () =>
      (await me(account(ctx).access)).status === 401 ? true : undefined,
    );
    console.log(`      refused ${waited} ms after the reuse`);
    // The steps after this one need a working session: a new login.
    const { email, password } = account(ctx);
    const login = await curl(auth("login"), { json: { email, password } });
    expectEqual(login.status, 200, "login status");
    account(ctx).access = json(login).access_token;
    account(ctx).refresh = json(login).refresh_token;
  });

  let loggedOut = { access: "", refresh: "" };
  await report.check("auth: logout ends the session (204)", async () => {
    const { email, password } = account(ctx);
    const login = await curl(auth("login"), { json: { email, password } });
    expectEqual(login.status, 200, "login status");
    loggedOut = { access: json(login).access_token, refresh: json(login).refresh_token };
    expectEqual((await curl(auth("logout"), { json: { refresh_token: loggedOut.refresh } })).status, 204, "status");
  });

  await report.check("auth: after logout the refresh token is refused (401)", async () => {
    expectEqual((await refresh(loggedOut.refresh)).status, 401, "status");
  });

  // Access tokens are verified locally; every service learns of the logout
  // from auth's sessions.revoked event and refuses the session's tokens.
  await report.check("auth: after logout the session's access token is refused at once", async () => {
    const [, waited] = await eventually("the access token refused", PATIENCE_MS, async () =>
      (await me(loggedOut.access)).status === 401 ? true : undefined,
    );
    console.log(`      refused ${waited} ms after the logout`);
  });

  await report.check("auth: logout is idempotent (204 again)", async () => {
    expectEqual((await curl(auth("logout"), { json: { refresh_token: loggedOut.refresh } })).status, 204, "status");
  });

  await report.check("auth: refresh with an unknown token is refused (401)", async () => {
    expectEqual((await refresh("not-a-refresh-token")).status, 401, "status");
  });
}
