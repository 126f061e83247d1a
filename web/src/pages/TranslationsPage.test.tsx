import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeServer, json, restError, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;
let templates: Record<string, string>;

beforeEach(() => {
  server = fakeServer();
  templates = { fr: "Bonjour, {name} !" };
  server.routes.push((s) => {
    if (s.path === "/lang/v1/languages") {
      return json(200, {
        languages: [
          { code: "fr", name: "French", native_name: "Français" },
          { code: "sv", name: "Swedish", native_name: "Svenska" },
        ],
      });
    }
    const match = /^\/lang\/v1\/translations\/(\w+)\/greeting$/.exec(s.path);
    if (!match) return undefined;
    const language = match[1];
    if (s.method === "GET") {
      return language in templates
        ? json(200, { language, key: "greeting", template: templates[language], updated_at: "2026-01-01T00:00:00Z" })
        : restError(404, "not_found", "no such translation");
    }
    templates[language] = JSON.parse(s.body).template;
    return json(200, { language, key: "greeting", template: templates[language], updated_at: "2026-01-02T00:00:00Z" });
  });
});

async function open(roles: string[]) {
  server.roles = roles;
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp("/translations", session);
  return userEvent.setup();
}

const puts = () => server.seen.filter((s) => s.method === "PUT");

describe("translations (admins)", () => {
  it("shows the current template, checks {name} as the admin types, and saves with an Idempotency-Key", async () => {
    const user = await open(["admin"]);
    await screen.findByRole("heading", { level: 1, name: "Translations" });
    screen.getByRole("link", { name: "Translations" });
    const template = (await screen.findByLabelText("Greeting template")) as HTMLTextAreaElement;
    expect(template.value).toBe("Bonjour, {name} !");

    await user.clear(template);
    await user.type(template, "Salut !");
    await screen.findByText("The template must contain {name}, where the name goes.");
    expect(template.getAttribute("aria-invalid")).toBe("true");
    await user.click(screen.getByRole("button", { name: "Save template" }));
    expect(puts()).toHaveLength(0);

    await user.type(template, " {{name}");
    expect(screen.queryByText(/must contain/)).toBeNull();
    await user.click(screen.getByRole("button", { name: "Save template" }));
    await screen.findByText("Saved. Localized greetings use it now.");
    expect(JSON.parse(puts()[0].body)).toEqual({ template: "Salut ! {name}" });
    expect(puts()[0].headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{36}$/);
    expect(puts()[0].headers.get("authorization")).toMatch(/^Bearer /);
  });

  it("says when a language has no template yet", async () => {
    const user = await open(["admin"]);
    await user.selectOptions(await screen.findByLabelText("Language"), "sv");
    await screen.findByText(/None yet: greetings in this language use English/);
    expect(((await screen.findByLabelText("Greeting template")) as HTMLTextAreaElement).value).toBe("");
  });

  it("shows lang's refusal when it refuses anyway", async () => {
    server.routes.unshift((s) => (s.method === "PUT" ? restError(403, "forbidden", "the admin role is required") : undefined));
    const user = await open(["admin"]);
    await screen.findByLabelText("Greeting template");
    await user.click(screen.getByRole("button", { name: "Save template" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Not saved: You don't have access to this.");
  });

  it("offers no link and no form to a user without the admin role", async () => {
    await open([]);
    await screen.findByRole("heading", { level: 1, name: "Admins only" });
    screen.getByText("This page is for admins: your account does not have the admin role.");
    expect(screen.queryByRole("link", { name: "Translations" })).toBeNull();
    expect(screen.queryByLabelText("Greeting template")).toBeNull();
    expect(server.seen.some((s) => s.path.startsWith("/lang/v1/translations"))).toBe(false);
  });
});
