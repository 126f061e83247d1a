// Access rules through whatever the suite talks to (the edge, or the services
// directly): anonymous and non-admin lang writes refused, an admin's accepted
// and audited, role changes audited. The admin is devstack's local admin.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json } from "../tools/curl.js";

/** Logs in as devstack's local admin (its password is in the data directory). */
export async function adminToken(ctx: Context): Promise<string> {
  if (ctx.admin) return ctx.admin;
  const file = process.env.E2E_ADMIN_PASSWORD_FILE || resolve(process.env.E2E_ROOT || "..", ".devstack/admin-password");
  const password = readFileSync(file, "utf8").trim();
  const reply = await curl(`${ctx.urls.auth}/auth/login`, { json: { email: "admin@platform.localhost", password } });
  expectEqual(reply.status, 200, "admin login status");
  ctx.admin = json(reply).access_token as string;
  return ctx.admin;
}

export async function access(ctx: Context): Promise<void> {
  const { report, urls } = ctx;
  const translation = `${urls.lang}/lang/v1/translations/en/greeting`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const pwned = { template: "pwned {name}" };
  report.section("access (who may do what)");

  await report.check("access: an anonymous lang write is refused (401)", async () => {
    const reply = await curl(translation, { method: "PUT", json: pwned });
    expectEqual(reply.status, 401, "status");
  });

  await report.check("access: a non-admin's lang write is refused (403)", async () => {
    const reply = await curl(translation, { method: "PUT", json: pwned, headers: bearer(account(ctx).access) });
    expectEqual(reply.status, 403, "status");
    const greeting = json(await curl(`${urls.lang}/lang/v1/greeting?name=Ada`));
    expectEqual(greeting.greeting, "Hello, Ada!", "the English greeting is untouched");
  });

  await report.check("access: an admin's lang write is accepted and audited", async () => {
    const admin = await adminToken(ctx);
    const marker = `Hello, {name}! (${ctx.run})`;
    const reply = await curl(translation, { method: "PUT", json: { template: marker }, headers: bearer(admin) });
    expectEqual(reply.status, 200, "status");
    const restored = await curl(translation, {
      method: "PUT",
      json: { template: "Hello, {name}!" },
      headers: bearer(admin),
    });
    expectEqual(restored.status, 200, "restoring the template");
    const audit = json(await curl(`${urls.lang}/lang/v1/audit?limit=5`, { headers: bearer(admin) }));
    const entry = audit.entries.find((e: { detail: { after?: string } }) => e.detail.after === marker);
    expect(entry !== undefined, `an audit row for the change: ${JSON.stringify(audit)}`);
    expectEqual([entry.action, entry.target], ["translation.put", "en/greeting"], "action and target");
  });

  await report.check("access: a non-admin cannot read lang's audit log (403)", async () => {
    const reply = await curl(`${urls.lang}/lang/v1/audit`, { headers: bearer(account(ctx).access) });
    expectEqual(reply.status, 403, "status");
  });

  await report.check("access: an admin's role change is audited; a non-admin's is refused", async () => {
    const admin = await adminToken(ctx);
    const roles = `${urls.auth}/auth/admin/users/${account(ctx).id}/roles/admin`;
    const refused = await curl(roles, { method: "PUT", headers: bearer(account(ctx).access) });
    expectEqual(refused.status, 403, "a user granting themselves admin");
    const granted = await curl(roles, { method: "PUT", headers: bearer(admin) });
    expectEqual([granted.status, json(granted).roles], [200, ["admin"]], "granted");
    const revoked = await curl(roles, { method: "DELETE", headers: bearer(admin) });
    expectEqual([revoked.status, json(revoked).roles], [200, []], "revoked");
    const audit = json(await curl(`${urls.auth}/auth/admin/audit?limit=2`, { headers: bearer(admin) }));
    const actions = audit.entries.map((e: { action: string; target: string }) => `${e.action} ${e.target}`);
    const id = account(ctx).id;
    expectEqual(actions, [`role.revoked ${id}`, `role.granted ${id}`], "audit rows");
  });
}
