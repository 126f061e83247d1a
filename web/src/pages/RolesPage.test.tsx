import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeServer, json, restError, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;
let roles: string[];

beforeEach(() => {
  server = fakeServer();
  server.roles = ["admin"];
  roles = [];
  server.routes.push((s) => {
    const user = () => json(200, { id: "u2", email: "bob@example.com", roles, created_at: "2026-01-01T00:00:00Z" });
    if (s.path === "/auth/admin/users") {
      return s.query.get("email") === "nobody@example.com"
        ? restError(404, "not_found", "no such user")
        : user();
    }
    if (s.path === "/auth/admin/users/u2/roles/admin") {
      if (s.method === "PUT") roles = ["admin"];
      else if (roles.length) roles = [];
      else return restError(409, "last_admin", "the last admin cannot lose the role");
      return user();
    }
    if (s.path === "/auth/admin/audit") {
      return json(200, { entries: [{ id: 7, at: "2026-01-02T00:00:00Z", actor: "u1", action: "role.granted", target: "u2", detail: { role: "admin" } }] });
    }
    return undefined;
  });
});

async function open(path: string) {
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp(path, session);
  return userEvent.setup();
}

describe("roles (admins)", () => {
  it("finds an account, grants and revokes admin with Idempotency-Keys", async () => {
    const user = await open("/roles");
    await user.type(await screen.findByLabelText("Account email"), "bob@example.com");
    await user.click(screen.getByRole("button", { name: "Find" }));
    expect((await screen.findByTestId("account-roles")).textContent).toBe("Roles: none");
    await user.click(screen.getByRole("button", { name: "Grant admin" }));
    await screen.findByText("Saved. It applies to their access tokens from their next login or refresh.");
    expect(screen.getByTestId("account-roles").textContent).toBe("Roles: admin");
    await user.click(screen.getByRole("button", { name: "Revoke admin" }));
    await screen.findByRole("button", { name: "Grant admin" });
    const changes = server.seen.filter((s) => s.path === "/auth/admin/users/u2/roles/admin");
    expect(changes.map((s) => s.method)).toEqual(["PUT", "DELETE"]);
    for (const c of changes) expect(c.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(changes.map((c) => c.headers.get("idempotency-key"))).size).toBe(2);
  });

  it("says when there is no such account", async () => {
    const user = await open("/roles");
    await user.type(await screen.findByLabelText("Account email"), "nobody@example.com");
    await user.click(screen.getByRole("button", { name: "Find" }));
    await screen.findByText("There is no account with the email nobody@example.com.");
  });

  it("checks the email before asking auth", async () => {
    const user = await open("/roles");
    await user.type(await screen.findByLabelText("Account email"), "bob");
    await user.click(screen.getByRole("button", { name: "Find" }));
    expect(server.seen.some((s) => s.path === "/auth/admin/users")).toBe(false);
  });

  it("lists auth's audit entries", async () => {
    await open("/audit");
    const row = await screen.findByRole("row", { name: /role\.granted/ });
    expect(row.textContent).toContain('{"role":"admin"}');
  });

  it("refuses both pages to a non-admin without asking auth", async () => {
    server.roles = [];
    await open("/audit");
    await screen.findByRole("heading", { level: 1, name: "Admins only" });
    expect(screen.queryByRole("link", { name: "Roles" })).toBeNull();
    expect(server.seen.some((s) => s.path.startsWith("/auth/admin"))).toBe(false);
  });
});
