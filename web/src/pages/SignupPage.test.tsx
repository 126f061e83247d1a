import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { fakeServer, restError, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;

beforeEach(() => {
  server = fakeServer();
  // Nobody is signed in: the page-load refresh finds no cookie.
  server.refreshAnswer = () => restError(401, "invalid_refresh_token", "no session");
});

async function signupPage() {
  const session = newSession();
  await session.restore();
  renderApp("/signup", session);
  await screen.findByRole("heading", { level: 1, name: "Sign up" });
  return { session, user: userEvent.setup() };
}

const rule = (id: string) => document.querySelector(`[data-rule="${id}"]`)!;

describe("sign-up", () => {
  it("gives live feedback on the password as it is typed", async () => {
    const { user } = await signupPage();
    await user.type(screen.getByLabelText("Email"), "ada.lovelace@example.com");
    const password = screen.getByLabelText("Password");
    expect(password.getAttribute("aria-describedby")).toBeTruthy();
    await user.type(password, "short");
    expect(rule("length").textContent).toContain("Not yet met");
    expect(rule("length").textContent).toContain("it has 5");
    await user.type(password, " but now much longer");
    expect(rule("length").textContent).toContain("Met");
    await user.clear(password);
    await user.type(password, "my-ada.lovelace-pw");
    expect(rule("email").textContent).toContain("Not yet met");
    await user.clear(password);
    await user.type(password, "Password123!");
    expect(rule("common").textContent).toContain("Not yet met");
    await user.clear(password);
    await user.type(password, "correct horse battery");
    expect(screen.getByText("Strong enough: it meets every rule.")).toBeTruthy();
  });

  it("validates before sending: email, then password, with auth's words", async () => {
    const { user } = await signupPage();
    await user.type(screen.getByLabelText("Email"), "ada");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(screen.getByText("Email must contain an @, e.g. ada@example.com.")).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText("Email"));
    expect(screen.getByLabelText("Email").getAttribute("aria-invalid")).toBe("true");

    await user.type(screen.getByLabelText("Email"), "@example.com");
    await user.type(screen.getByLabelText("Password"), "aaaa");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(
      screen.getByText(
        "The password is too weak; it needs at least 10 bytes (it has 4), at least 5 different characters, to not be a common password or a common word padded with digits or symbols.",
      ),
    ).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText("Password"));
    expect(server.to("/auth/signup")).toHaveLength(0);
  });

  async function submit(user: ReturnType<typeof userEvent.setup>) {
    await user.type(screen.getByLabelText("Email"), "ada@example.com");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Create account" }));
  }

  it("signs up in cookie mode with an Idempotency-Key, then shows the greet page", async () => {
    const { user, session } = await signupPage();
    await submit(user);
    await screen.findByRole("heading", { level: 1, name: "Greet" });
    const [signup] = server.to("/auth/signup");
    expect(signup.headers.get("session-mode")).toBe("cookie");
    expect(signup.headers.get("idempotency-key")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(session.getState().status).toBe("signedIn");
    expect(localStorage.length + sessionStorage.length).toBe(0);
  });

  it("409: the email is taken, with a way to log in instead", async () => {
    server.routes.push((s) =>
      s.path === "/auth/signup" ? restError(409, "email_taken", "an account with this email already exists; log in instead") : undefined,
    );
    const { user } = await signupPage();
    await submit(user);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("An account with this email already exists.");
    await user.click(within(alert).getByRole("link", { name: "Log in with this email instead" }));
    await screen.findByRole("heading", { level: 1, name: "Log in" });
    expect((screen.getByLabelText("Email") as HTMLInputElement).value).toBe("ada@example.com");
  });

  it("422: shows auth's message", async () => {
    server.routes.push((s) =>
      s.path === "/auth/signup" ? restError(422, "invalid_email", "email must end in a domain name such as example.com") : undefined,
    );
    const { user } = await signupPage();
    await submit(user);
    expect((await screen.findByRole("alert")).textContent).toBe("Email must end in a domain name such as example.com.");
  });

  it("429: shows when to try again, from Retry-After", async () => {
    server.routes.push((s) =>
      s.path === "/auth/signup"
        ? restError(429, "too_many_requests", "too many sign-ups; try again in 37 seconds", { "retry-after": "37" })
        : undefined,
    );
    const { user } = await signupPage();
    await submit(user);
    expect((await screen.findByRole("alert")).textContent).toBe("Too many attempts: try again in 37 seconds.");
    expect(server.to("/auth/signup")).toHaveLength(1); // 4xx: not retried
  });

  it("a failure worth retrying is retried with the same Idempotency-Key", async () => {
    let first = true;
    server.routes.push((s) => {
      if (s.path !== "/auth/signup" || !first) return undefined;
      first = false;
      return restError(503, "unavailable", "the account store is unavailable; try again");
    });
    const { user } = await signupPage();
    await submit(user);
    await screen.findByRole("heading", { level: 1, name: "Greet" });
    const keys = server.to("/auth/signup").map((s) => s.headers.get("idempotency-key"));
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
  });
});
