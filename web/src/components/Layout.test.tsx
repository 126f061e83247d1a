import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeServer, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;

beforeEach(() => {
  server = fakeServer();
});

async function signedIn() {
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp("/greet", session);
  await screen.findByRole("heading", { level: 1, name: "Greet" });
  return { session, user: userEvent.setup() };
}

describe("the navigation", () => {
  it("has landmarks, says who is signed in, and logs out", async () => {
    const { user, session } = await signedIn();
    expect(screen.getByRole("navigation", { name: "Main" })).toBeTruthy();
    expect(screen.getByRole("main")).toBeTruthy();
    expect(screen.getByText("Signed in as ada@example.com")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Log out" }));
    await screen.findByRole("heading", { level: 1, name: "Log in" });
    expect(server.to("/auth/logout")[0].headers.get("session-mode")).toBe("cookie");
    expect(session.getState().status).toBe("signedOut");
  });

  it("logs out everywhere: logout-all with the token, then the cookie-mode logout", async () => {
    const { user } = await signedIn();
    await user.click(screen.getByRole("button", { name: "Log out everywhere" }));
    await screen.findByRole("heading", { level: 1, name: "Log in" });
    expect(server.seen.map((s) => s.path).filter((p) => p.startsWith("/auth/logout"))).toEqual([
      "/auth/logout-all",
      "/auth/logout",
    ]);
  });
});
