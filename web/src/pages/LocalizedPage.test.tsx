import { cleanup, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { Source } from "../gen/gateway/v1/gateway_pb";
import { fakeServer, json, restError, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";
import { describeSource } from "./LocalizedPage";

let server: FakeServer;
let preferred: string | undefined;
const GREETINGS: Record<string, string> = { en: "Hello, {name}!", fr: "Bonjour, {name} !", de: "Hallo, {name}!" };

beforeEach(() => {
  server = fakeServer();
  preferred = undefined;
  const calls = new Map<string, number>();
  server.routes.push((s) => {
    switch (`${s.method} ${s.path}`) {
      case "GET /lang/v1/languages":
        return json(200, {
          languages: [
            { code: "de", name: "German", native_name: "Deutsch" },
            { code: "en", name: "English", native_name: "English" },
            { code: "fr", name: "French", native_name: "Français" },
            { code: "xx", name: "Unknown", native_name: "Unknown" },
          ],
        });
      case "GET /lang/v1/preferences/me":
        return preferred ? json(200, { user_id: "u1", language: preferred, updated_at: "2026-01-01T00:00:00Z" }) : restError(404, "not_found", "no preference");
      case "PUT /lang/v1/preferences/me":
        preferred = JSON.parse(s.body).language;
        return json(200, { user_id: "u1", language: preferred, updated_at: "2026-01-01T00:00:00Z" });
      case "POST /gateway.v1.GatewayService/LocalizedGreeting": {
        if (!s.headers.get("authorization")) return json(401, { code: "unauthenticated", message: "no token" });
        const { name, language } = JSON.parse(s.body);
        const known = language in GREETINGS;
        const key = `${name}/${language}`;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return json(200, {
          greeting: GREETINGS[known ? language : "en"].replace("{name}", name),
          language: known ? language : "en",
          fallback: !known,
          source: calls.get(key)! > 1 ? "SOURCE_CACHE" : "SOURCE_UPSTREAM",
        });
      }
      default:
        return undefined;
    }
  });
});

async function page() {
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp("/localized", session);
  await screen.findByRole("heading", { level: 1, name: "Localized greeting" });
  return userEvent.setup();
}

const calls = () => server.to("/gateway.v1.GatewayService/LocalizedGreeting");

describe("localized greeting", () => {
  it("starts in English without a preference, greets in the chosen language and says where the answer came from", async () => {
    const user = await page();
    const select = (await screen.findByLabelText("Language")) as HTMLSelectElement;
    expect(select.value).toBe("en");
    expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("ada");
    await user.selectOptions(select, "fr");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    const greeting = await screen.findByTestId("localized-greeting");
    expect(greeting.textContent).toBe("Bonjour, ada !");
    expect(greeting.getAttribute("lang")).toBe("fr");
    expect(screen.getByTestId("localized-language").textContent).toBe("French (Français)");
    expect(screen.getByTestId("localized-source").textContent).toBe("lang, just now");
    expect(JSON.parse(calls()[0].body)).toEqual({ name: "ada", language: "fr" });
    expect(calls()[0].headers.get("authorization")).toMatch(/^Bearer /);

    await user.click(screen.getByRole("button", { name: "Greet" }));
    await vi.waitFor(() => expect(screen.getByTestId("localized-source").textContent).toBe("gateway's cache of lang's answer"));
  });

  it("says when English was used for a language lang has no greeting in", async () => {
    const user = await page();
    await user.selectOptions(await screen.findByLabelText("Language"), "xx");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    expect((await screen.findByTestId("localized-greeting")).getAttribute("lang")).toBe("en");
    screen.getByText("lang has no greeting in that language, so English was used.");
  });

  it("saves the chosen language with an Idempotency-Key, and the next visit starts from it", async () => {
    const user = await page();
    const save = await screen.findByRole("button", { name: "Save as my language" });
    expect(save).toHaveProperty("disabled", true);
    await user.selectOptions(screen.getByLabelText("Language"), "de");
    await user.click(save);
    await screen.findByText("Saved: German (Deutsch) is your language.");
    const put = server.seen.find((s) => s.method === "PUT")!;
    expect(JSON.parse(put.body)).toEqual({ language: "de" });
    expect(put.headers.get("idempotency-key")).toMatch(/^[0-9a-f-]{36}$/);

    // The next visit: a new page load, with nothing cached but the saved preference on lang.
    cleanup();
    await page();
    expect(((await screen.findByLabelText("Language")) as HTMLSelectElement).value).toBe("de");
  });

  it("refuses an empty name without calling gateway", async () => {
    const user = await page();
    await user.clear(await screen.findByLabelText("Name"));
    await user.click(screen.getByRole("button", { name: "Greet" }));
    await screen.findByText("Enter a name to greet.");
    expect(calls()).toHaveLength(0);
  });

  it("names every source", () => {
    expect(describeSource(Source.FALLBACK)).toBe("the English fallback: lang could not answer");
    expect(describeSource(Source.UNSPECIFIED)).toBe("not said");
  });
});
