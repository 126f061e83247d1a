import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fakeServer, json, restError, type FakeServer } from "../test/fake-server";
import { createAuthClient, createLangClient } from "./rest";
import { Session } from "./session";

const ORIGIN = window.location.origin;

function newSession(options: ConstructorParameters<typeof Session>[1] = {}) {
  return new Session(createAuthClient(ORIGIN), options);
}

/** Anything that looks like a token, anywhere in web storage. */
function storageContents(): string {
  const dump = (s: Storage) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i)!)}`);
  return [...dump(localStorage), ...dump(sessionStorage)].join("\n");
}

let server: FakeServer;
let setItem: ReturnType<typeof vi.spyOn>;

beforeEach(() => {
  server = fakeServer();
  localStorage.clear();
  sessionStorage.clear();
  setItem = vi.spyOn(Storage.prototype, "setItem");
});

afterEach(() => {
  // Whatever a test did, no token (nor anything else) reached web storage.
  expect(setItem).not.toHaveBeenCalled();
  expect(storageContents()).toBe("");
  vi.useRealTimers();
});

describe("cookie mode", () => {
  it("signs up with Session-Mode: cookie and an Idempotency-Key, without expecting a refresh_token", async () => {
    const session = newSession();
    await session.signup("ada@example.com", "correct horse battery", "key-0123456789abcdef");
    const [signup] = server.to("/auth/signup");
    expect(signup.method).toBe("POST");
    expect(signup.headers.get("session-mode")).toBe("cookie");
    expect(signup.headers.get("idempotency-key")).toBe("key-0123456789abcdef");
    expect(signup.credentials).toBe("same-origin");
    expect(JSON.parse(signup.body)).toEqual({ email: "ada@example.com", password: "correct horse battery" });
    // The fake answers without refresh_token, as auth does in cookie mode.
    expect(session.getState()).toEqual({ status: "signedIn", email: "ada@example.com", roles: [] });
    expect(await session.token()).toBe([...server.valid][0]);
  });

  it("logs in with Session-Mode: cookie", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    const [login] = server.to("/auth/login");
    expect(login.headers.get("session-mode")).toBe("cookie");
    expect(login.credentials).toBe("same-origin");
    expect(session.getState().status).toBe("signedIn");
  });

  it("refreshes with Session-Mode: cookie and no refresh token in the body", async () => {
    const session = newSession();
    await session.refresh();
    const [refresh] = server.to("/auth/refresh");
    expect(refresh.method).toBe("POST");
    expect(refresh.headers.get("session-mode")).toBe("cookie");
    expect(refresh.credentials).toBe("same-origin");
    expect(refresh.body === "" || refresh.body === "{}").toBe(true);
    expect(refresh.body).not.toContain("refresh_token");
  });

  it("logs out with Session-Mode: cookie and forgets the access token", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    await session.logout();
    const [logout] = server.to("/auth/logout");
    expect(logout.headers.get("session-mode")).toBe("cookie");
    expect(logout.body).not.toContain("refresh_token");
    expect(session.getState()).toEqual({ status: "signedOut", notice: undefined });
    expect(await session.token()).toBeUndefined();
  });

  it("keeps the session when logout fails, so the user can try again", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    server.routes.push((s) => (s.path === "/auth/logout" ? restError(503, "unavailable", "down") : undefined));
    await expect(session.logout()).rejects.toMatchObject({ status: 503 });
    expect(session.getState().status).toBe("signedIn");
  });

  it("logs out everywhere with the bearer token, then clears the cookie with a cookie-mode logout", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    const token = await session.token();
    await session.logoutEverywhere();
    expect(server.seen.map((s) => s.path)).toEqual(["/auth/login", "/auth/logout-all", "/auth/logout"]);
    expect(server.to("/auth/logout-all")[0].headers.get("authorization")).toBe(`Bearer ${token}`);
    expect(server.to("/auth/logout")[0].headers.get("session-mode")).toBe("cookie");
    expect(session.getState().status).toBe("signedOut");
  });

  it("never writes a token to web storage or a script-readable cookie", async () => {
    const session = newSession();
    await session.signup("ada@example.com", "correct horse battery", "key-0123456789abcdef");
    await session.refresh();
    await session.login("ada@example.com", "correct horse battery");
    await session.logout();
    expect(document.cookie).toBe("");
    // afterEach checks storage.
  });
});

describe("restoring on page load", () => {
  it("a refresh restores the session", async () => {
    const session = newSession();
    expect(session.getState().status).toBe("restoring");
    await session.restore();
    expect(session.getState()).toEqual({ status: "signedIn", email: "ada@example.com", roles: [] });
  });

  it("401 means signed out, with nothing to tell", async () => {
    server.refreshAnswer = () => restError(401, "invalid_refresh_token", "the refresh token is invalid");
    const session = newSession();
    await session.restore();
    expect(session.getState()).toEqual({ status: "signedOut", notice: undefined });
  });

  it("a refused origin (403) is told", async () => {
    server.refreshAnswer = () => restError(403, "origin_not_allowed", "cookie sessions are not allowed from the origin http://x");
    const session = newSession();
    await session.restore();
    expect(session.getState()).toEqual({
      status: "signedOut",
      notice: "Cookie sessions are not allowed from the origin http://x.",
    });
  });

  it("an unreachable auth signs out with a notice", async () => {
    server.refreshAnswer = () => Promise.reject(new TypeError("Failed to fetch"));
    const session = newSession();
    await session.restore();
    expect(session.getState().status).toBe("signedOut");
    expect(session.getState().notice).toMatch(/could not be restored/);
  });
});

describe("single-flight refresh", () => {
  it("concurrent refreshes share one request", async () => {
    const session = newSession();
    const tokens = await Promise.all(Array.from({ length: 5 }, () => session.refresh()));
    expect(server.to("/auth/refresh")).toHaveLength(1);
    expect(new Set(tokens).size).toBe(1);
    // Once settled, the next refresh is a new request.
    await session.refresh();
    expect(server.to("/auth/refresh")).toHaveLength(2);
  });

  it("5 concurrent REST calls answered 401 make exactly one refresh, and each is retried once", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    const stale = await session.token();
    server.valid.clear(); // auth now refuses the token, as after its expiry
    const lang = createLangClient(ORIGIN, session.fetch);
    server.routes.push((s) =>
      s.path === "/lang/v1/preferences/me"
        ? server.valid.has(s.headers.get("authorization")?.slice(7) ?? "")
          ? json(200, { user_id: "u1", language: "fr", updated_at: "2026-01-01T00:00:00Z" })
          : restError(401, "unauthorized", "invalid token")
        : undefined,
    );
    const answers = await Promise.all(Array.from({ length: 5 }, () => lang.GET("/lang/v1/preferences/me")));
    expect(answers.map((a) => a.response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(server.to("/auth/refresh")).toHaveLength(1);
    const calls = server.to("/lang/v1/preferences/me");
    expect(calls).toHaveLength(10);
    expect(calls.slice(0, 5).every((c) => c.headers.get("authorization") === `Bearer ${stale}`)).toBe(true);
    expect(calls.slice(5).every((c) => c.headers.get("authorization") === `Bearer ${[...server.valid][0]}`)).toBe(true);
  });

  it("a 401 after another caller already refreshed retries with the newer token, without refreshing again", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    const old = (await session.token())!;
    await session.refresh();
    expect(await session.afterUnauthorized(old)).toBe(await session.token());
    expect(server.to("/auth/refresh")).toHaveLength(1);
  });

  it("a failed refresh (401) clears the session, and the request's 401 stands", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    server.valid.clear();
    server.refreshAnswer = () => restError(401, "invalid_refresh_token", "the refresh token is invalid, expired or revoked");
    const me = await createAuthClient(ORIGIN, session.fetch).GET("/auth/me");
    expect(me.response.status).toBe(401);
    expect(server.to("/auth/refresh")).toHaveLength(1);
    expect(server.to("/auth/me")).toHaveLength(1); // not retried: there was no new token
    expect(session.getState()).toEqual({ status: "signedOut", notice: "Your session has ended: log in again." });
    expect(await session.token()).toBeUndefined();
  });

  it("a retried request answered 401 again is not retried a second time", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    server.routes.push((s) => (s.path === "/auth/me" ? restError(401, "unauthorized", "no") : undefined));
    const me = await createAuthClient(ORIGIN, session.fetch).GET("/auth/me");
    // Refreshed once, retried once, and the second 401 is the answer.
    expect(me.response.status).toBe(401);
    expect(server.to("/auth/me")).toHaveLength(2);
    expect(server.to("/auth/refresh")).toHaveLength(1);
  });

  it("a refresh auth could not answer keeps the session and rejects", async () => {
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    server.refreshAnswer = () => restError(503, "unavailable", "the account store is unavailable; try again");
    await expect(session.refresh()).rejects.toMatchObject({ status: 503 });
    expect(session.getState().status).toBe("signedIn");
  });

  it("refreshes run under the cross-tab lock", async () => {
    let locked = 0;
    const withLock = <T,>(f: () => Promise<T>) => {
      locked += 1;
      return f();
    };
    const session = newSession({ withLock });
    await Promise.all([session.refresh(), session.refresh()]);
    expect(locked).toBe(1);
  });

  it("a refresh that returns after logout does not sign the user back in", async () => {
    let release!: () => void;
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    server.refreshAnswer = () => new Promise<Response>((r) => (release = () => r(json(200, { access_token: "late", token_type: "Bearer", expires_in: 900, refresh_expires_in: 1 }))));
    const pending = session.refresh();
    await vi.waitFor(() => expect(release).toBeDefined());
    await session.logout();
    release();
    await pending;
    expect(session.getState().status).toBe("signedOut");
    expect(await session.token()).toBeUndefined();
  });
});

describe("expiry", () => {
  it("refreshes at 80% of the access token's lifetime", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    server.routes.push((s) =>
      s.path === "/auth/login" ? json(200, { access_token: server.issue(), token_type: "Bearer", expires_in: 100, refresh_expires_in: 1 }) : undefined,
    );
    const session = newSession();
    await session.login("ada@example.com", "correct horse battery");
    await vi.advanceTimersByTimeAsync(79_000);
    expect(server.to("/auth/refresh")).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(server.to("/auth/refresh")).toHaveLength(1);
  });

  it("a token expired by the browser's clock is refreshed before it is used", async () => {
    let now = 1_000_000;
    const session = newSession({ now: () => now });
    await session.login("ada@example.com", "correct horse battery");
    const first = await session.token();
    expect(server.to("/auth/refresh")).toHaveLength(0);
    now += 901_000;
    const second = await session.token();
    expect(server.to("/auth/refresh")).toHaveLength(1);
    expect(second).not.toBe(first);
  });
});
