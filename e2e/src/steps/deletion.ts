// Deleting an account, through the edge when it runs: a new user greets,
// sets a language and deletes the account; the saga completes, the
// greetings and the login are gone, and the user's still-unexpired access
// token is refused by every service. The delays are printed.

import { type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { value } from "../rpc.js";
import { curl, json, randomLoopback } from "../tools/curl.js";
import { eventually } from "../tools/wait.js";
import { adminToken } from "./access.js";

/** Generous: a deletion completes in well under a second on a quiet machine. */
const PATIENCE_MS = 30_000;

export async function deletion(ctx: Context): Promise<void> {
  const { report, urls, target, run } = ctx;
  const rpc = ctx.rpcs[0];
  report.section(`account deletion (curl, ${rpc.name})`);
  const email = `e2e-deleted-${run}@example.com`;
  const password = `correct horse battery ${run}`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  let user = { id: "", token: "" };
  const greetingIds: string[] = [];

  await report.check("deletion: a new user greets twice and sets a language", async () => {
    const signup = await curl(`${urls.auth}/auth/signup`, { json: { email, password }, from: randomLoopback() });
    expectEqual(signup.status, 201, `sign-up status (${signup.body})`);
    const body = json(signup);
    user = { id: body.user.id as string, token: body.tokens.access_token as string };
    for (const name of ["Doomed", "Doomed again"]) {
      const url = target.url(`deletion-${name.replace(" ", "-")}`);
      const greeted = value(await rpc.call("greeter", "Greet", { name, url }, user.token), "Greet");
      greetingIds.push(String(greeted.greetingId));
    }
    const pref = await curl(`${urls.lang}/lang/v1/preferences/me`, {
      method: "PUT",
      json: { language: "fr" },
      headers: bearer(user.token),
    });
    expect(pref.status >= 200 && pref.status < 300, `PUT preference status ${pref.status}: ${pref.body}`);
  });

  await report.check("deletion: DELETE /auth/me completes; every participant removed its part", async () => {
    const started = Date.now();
    const asked = await curl(`${urls.auth}/auth/me`, { method: "DELETE", headers: bearer(user.token) });
    expectEqual(asked.status, 202, `DELETE /auth/me status (${asked.body})`);
    const admin = await adminToken(ctx);
    const [done] = await eventually("the deletion completed", PATIENCE_MS, async () => {
      const reply = await curl(`${urls.auth}/auth/admin/users/${user.id}/deletion`, { headers: bearer(admin) });
      expectEqual(reply.status, 200, `deletion status (${reply.body})`);
      const deletion = json(reply);
      expect(deletion.state !== "failed", `the deletion failed: ${reply.body}`);
      return deletion.state === "completed" ? deletion : undefined;
    });
    console.log(`      the deletion completed ${Date.now() - started} ms after DELETE /auth/me`);
    const removed = Object.fromEntries(
      (done.participants as { participant: string; removed: number }[]).map((s) => [s.participant, s.removed]),
    );
    expectEqual(JSON.stringify(removed), JSON.stringify({ gateway: 1, greeter: 2, lang: 1 }), "records removed");
  });

  await report.check("deletion: the login fails and the greetings are gone", async () => {
    const login = await curl(`${urls.auth}/auth/login`, { json: { email, password }, from: randomLoopback() });
    expectEqual(login.status, 401, "login status");
    const admin = await adminToken(ctx);
    const seen: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 100; page++) {
      const listed = value(await rpc.call("greeter", "ListGreetings", { pageSize: 100, pageToken }, admin), "ListGreetings");
      for (const g of (listed.greetings ?? []) as { id: string }[]) seen.push(String(g.id));
      pageToken = (listed.nextPageToken as string) ?? "";
      if (!pageToken) break;
    }
    expect(seen.length > 0, "the admin sees other greetings");
    expectEqual(greetingIds.filter((id) => seen.includes(id)).length, 0, "the deleted user's greetings left");
  });

  await report.check("deletion: the user's unexpired access token is refused by every service", async () => {
    const started = Date.now();
    await eventually("the token refused everywhere", PATIENCE_MS, async () => {
      const statuses = [
        (await curl(`${urls.auth}/auth/me`, { headers: bearer(user.token) })).status,
        (await curl(`${urls.lang}/lang/v1/preferences/me`, { headers: bearer(user.token) })).status,
      ];
      const greeter = await rpc.call("greeter", "ListGreetings", {}, user.token);
      const gateway = await rpc.call("gateway", "LocalizedGreeting", { name: "Gone" }, user.token);
      const refused =
        statuses.every((s) => s === 401) &&
        [greeter, gateway].every((o) => !o.ok && o.code === "unauthenticated");
      return refused ? true : undefined;
    });
    console.log(`      refused by auth, lang, greeter and gateway ${Date.now() - started} ms after completion was seen`);
  });
}
