import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeServer, restError, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;

beforeEach(() => {
  server = fakeServer();
  server.refreshAnswer = () => restError(401, "invalid_refresh_token", "no session");
});

async function loginPage(path = "/login") {
  const session = newSession();
  await session.restore();
  renderApp(path, session);
  await screen.findByRole("heading", { level: 1, name: "Log in" });
  return { session, user: userEvent.setup() };
}

async function submit(user: ReturnType<typeof userEvent.setup>, password = "correct horse battery") {
  await user.type(screen.getByLabelText("Email"), "ada@example.com");
  await user.type(screen.getByLabelText("Password"), password);
  await user.click(screen.getByRole("button", { name: "Log in" }));
}

describe("log-in", () => {
  it("asks for both fields", async () => {
    const { user } = await loginPage();
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(screen.getByText("Enter your email.")).toBeTruthy();
    expect(screen.getByText("Enter your password.")).toBeTruthy();
    expect(server.to("/auth/login")).toHaveLength(0);
  });

  it("401: the email or password is incorrect", async () => {
    server.routes.push((s) =>
      s.path === "/auth/login" ? restError(401, "invalid_credentials", "the email or password is incorrect") : undefined,
    );
    const { user } = await loginPage();
    await submit(user, "wrong horse battery");
    expect((await screen.findByRole("alert")).textContent).toBe("The email or password is incorrect.");
    expect(server.to("/auth/login")).toHaveLength(1);
  });

  it("429: says how long to wait", async () => {
    server.routes.push((s) =>
      s.path === "/auth/login"
        ? restError(429, "too_many_requests", "too many failed logins; try again in 37 seconds", { "retry-after": "37" })
        : undefined,
    );
    const { user } = await loginPage();
    await submit(user);
    expect((await screen.findByRole("alert")).textContent).toBe("Too many attempts: try again in 37 seconds.");
  });

  it("a signed-out visitor sent to the login page comes back after logging in", async () => {
    const { user, session } = await loginPage("/history");
    await submit(user);
    await screen.findByRole("heading", { level: 1, name: "History" });
    expect(server.to("/auth/login")[0].headers.get("session-mode")).toBe("cookie");
    expect(session.getState().status).toBe("signedIn");
  });

  it("tells why the previous session ended", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    server.valid.clear();
    renderApp("/greet", session);
    await screen.findByRole("heading", { level: 1, name: "Greet" });
    // The next refresh is refused: the session is over.
    await session.refresh();
    await screen.findByRole("heading", { level: 1, name: "Log in" });
    expect(screen.getByRole("status").textContent).toBe("Your session has ended: log in again.");
  });
});
