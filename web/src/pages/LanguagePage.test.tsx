import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeServer, json, restError, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;
let preferred: string | undefined;

beforeEach(() => {
  server = fakeServer();
  preferred = undefined;
  server.routes.push((s) => {
    switch (`${s.method} ${s.path}`) {
      case "GET /lang/v1/languages":
        return json(200, { languages: [{ code: "en", name: "English", native_name: "English" }, { code: "fr", name: "French", native_name: "Français" }] });
      case "GET /lang/v1/preferences/me":
        return preferred ? json(200, { user_id: "u1", language: preferred, updated_at: "2026-01-01T00:00:00Z" }) : restError(404, "not_found", "no preference");
      case "PUT /lang/v1/preferences/me":
        preferred = JSON.parse(s.body).language;
        return json(200, { user_id: "u1", language: preferred, updated_at: "2026-01-01T00:00:00Z" });
      case "GET /lang/v1/greeting":
        return json(200, preferred === "fr" ? { greeting: "Bonjour, ada !", language: "fr", fallback: false } : { greeting: "Hello, ada!", language: "en", fallback: false });
      default:
        return undefined;
    }
  });
});

describe("language", () => {
  it("lists lang's languages, saves the choice with an Idempotency-Key, and previews it", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    renderApp("/language", session);
    const user = userEvent.setup();
    const select = await screen.findByLabelText("Preferred language");
    expect((select as HTMLSelectElement).value).toBe("");
    expect((await screen.findByText("Hello, ada!")).getAttribute("lang")).toBe("en");
    await user.selectOptions(select, "fr");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Saved.");
    expect((await screen.findByText("Bonjour, ada !")).getAttribute("lang")).toBe("fr");
    const [put] = server.seen.filter((s) => s.method === "PUT");
    expect(put.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{36}$/);
    expect(put.headers.get("authorization")).toMatch(/^Bearer /);
    expect(server.seen.find((s) => s.path === "/lang/v1/greeting")?.headers.get("authorization")).toMatch(/^Bearer /);
  });
});
