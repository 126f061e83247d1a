// The browser session, in cookie mode.
//
// The refresh token lives in an HttpOnly cookie that auth sets and only
// /auth/refresh and /auth/logout receive: page scripts never see it. The
// access token lives in this object's memory and nowhere else (no web
// storage), so a reload starts with none and restores one with a refresh.
//
// Refreshes are single-flight: however many callers need a new access token
// at once (a page load, the expiry timer, several requests answered 401),
// one request is made and they all share its outcome. Presenting a used
// refresh token makes auth revoke the whole session, so two refreshes must
// never race, not even from two tabs: a Web Lock serialises them.

import { MESSAGES, sentence } from "./errors";
import { RestError, toRestError, type AuthClient } from "./rest";

/** Asks auth for cookie mode on signup, login, refresh and logout. */
export const COOKIE_MODE = { "Session-Mode": "cookie" } as const;

/** Refresh when this much of the access token's lifetime has passed. */
const REFRESH_AT = 0.8;
/** A token this close to expiry (by this browser's clock) is refreshed before use. */
const EXPIRY_MARGIN_MS = 5_000;
const LOCK_NAME = "platform-auth-refresh";

export type SessionStatus = "restoring" | "signedIn" | "signedOut";

export interface SessionState {
  status: SessionStatus;
  /** The signed-in user's address, from the access token. */
  email?: string;
  /** The signed-in user's roles, from the access token: which pages to offer, not who may act. */
  roles?: string[];
  /** Why the session ended, when it did not end by logging out. */
  notice?: string;
}

export interface SessionOptions {
  now?: () => number;
  /** Runs `refresh` holding a lock shared by every tab; defaults to the Web Locks API when there is one. */
  withLock?: <T>(refresh: () => Promise<T>) => Promise<T>;
}

interface Access {
  token: string;
  expiresAt: number;
}

/** What auth answers on login and refresh (and in `tokens` on signup); cookie mode leaves refresh_token out. */
interface Tokens {
  access_token: string;
  expires_in: number;
}

const defaultLock = <T>(refresh: () => Promise<T>): Promise<T> =>
  typeof navigator !== "undefined" && navigator.locks
    ? (navigator.locks.request(LOCK_NAME, refresh) as Promise<T>)
    : refresh();

/** What the page shows from the access token (auth verifies it; the page only displays and hides). */
export interface TokenClaims {
  email?: string;
  roles: string[];
}

/** The access token's `email` and `roles` claims, for display only: every service checks the token itself. */
export function claimsFromToken(token: string): TokenClaims {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return {
      email: typeof claims.email === "string" && claims.email ? claims.email : undefined,
      roles: Array.isArray(claims.roles) ? claims.roles.filter((r: unknown): r is string => typeof r === "string") : [],
    };
  } catch {
    return { roles: [] };
  }
}

export class Session {
  private access?: Access;
  private inflight?: Promise<string | undefined>;
  private timer?: ReturnType<typeof setTimeout>;
  /** Bumped when the session ends, so a refresh that was in flight cannot bring it back. */
  private generation = 0;
  private state: SessionState = { status: "restoring" };
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  private readonly withLock: <T>(refresh: () => Promise<T>) => Promise<T>;

  constructor(
    private readonly auth: AuthClient,
    options: SessionOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.withLock = options.withLock ?? defaultLock;
  }

  // --- for React (useSyncExternalStore) -----------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): SessionState => this.state;

  private setState(state: SessionState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  // --- signing in and out ---------------------------------------------------

  /** Creates the account and signs in. `idempotencyKey` makes a retried submission safe. */
  async signup(email: string, password: string, idempotencyKey: string): Promise<void> {
    const { data, error, response } = await this.auth.POST("/auth/signup", {
      body: { email, password },
      params: { header: { ...COOKIE_MODE, "Idempotency-Key": idempotencyKey } },
    });
    if (!data) throw toRestError(response, error);
    this.generation += 1; // a refresh still in flight must not override this sign-in
    this.signedIn(data.tokens);
  }

  async login(email: string, password: string): Promise<void> {
    const { data, error, response } = await this.auth.POST("/auth/login", {
      body: { email, password },
      params: { header: COOKIE_MODE },
    });
    if (!data) throw toRestError(response, error);
    this.generation += 1; // a refresh still in flight must not override this sign-in
    this.signedIn(data);
  }

  /** On page load: a refresh restores the session if the cookie is there; a 401 means signed out. */
  async restore(): Promise<void> {
    try {
      await this.refresh();
    } catch {
      // auth is unreachable: the user can still log in once it is back.
      if (this.state.status === "restoring") {
        this.end("Your session could not be restored: the service is unavailable. Log in again.");
      }
    }
  }

  /** Ends this session at auth (which clears the cookie), then here. */
  async logout(): Promise<void> {
    // No body: in cookie mode the refresh token is the cookie.
    const { error, response } = await this.auth.POST("/auth/logout", { params: { header: COOKIE_MODE } });
    if (!response.ok) throw toRestError(response, error);
    this.end();
  }

  /**
   * Revokes every session of the user (POST /auth/logout-all with the access
   * token), then clears this browser's cookie with a cookie-mode logout.
   */
  async logoutEverywhere(): Promise<void> {
    const { error, response } = await this.auth.POST("/auth/logout-all", { fetch: this.fetch });
    if (!response.ok) throw toRestError(response, error);
    await this.logout();
  }

  // --- access tokens --------------------------------------------------------

  /**
   * fetch for REST calls that need the user: adds the bearer token and, when
   * the answer is 401, refreshes once (shared with other callers) and retries.
   */
  fetch = async (request: Request): Promise<Response> => {
    const token = await this.token();
    const retry = request.clone(); // the body can be sent only once
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    const response = await globalThis.fetch(request);
    if (response.status !== 401 || !token) return response;
    const fresh = await this.afterUnauthorized(token);
    if (!fresh) return response;
    retry.headers.set("Authorization", `Bearer ${fresh}`);
    return globalThis.fetch(retry);
  };

  /** A usable access token, refreshed first when it has expired by this browser's clock; none when signed out. */
  async token(): Promise<string | undefined> {
    if (!this.access) return this.state.status === "restoring" ? this.refresh() : undefined;
    if (this.now() >= this.access.expiresAt - EXPIRY_MARGIN_MS) return this.refresh();
    return this.access.token;
  }

  /**
   * After a request with `rejected` was answered 401: a newer token if another
   * caller already refreshed, else the outcome of one (shared) refresh.
   */
  async afterUnauthorized(rejected: string): Promise<string | undefined> {
    if (this.access && this.access.token !== rejected) return this.access.token;
    return this.refresh();
  }

  /**
   * One cookie-mode refresh at a time: callers that arrive while one is in
   * flight get its promise. Resolves to the new access token, or undefined
   * when auth refused the cookie (the session is then over); rejects when
   * auth could not be asked (the session is kept, to try again later).
   */
  refresh(): Promise<string | undefined> {
    this.inflight ??= this.withLock(() => this.doRefresh()).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async doRefresh(): Promise<string | undefined> {
    const generation = this.generation;
    const { data, error, response } = await this.auth.POST("/auth/refresh", { params: { header: COOKIE_MODE } });
    // The session ended or began anew meanwhile: this answer is stale.
    if (generation !== this.generation) return this.access?.token;
    if (data) return this.signedIn(data);
    const failure = toRestError(response, error);
    // 401: no cookie, or it was expired, used or revoked. 403: this origin may not use cookie mode.
    if (response.status === 401 || response.status === 403) {
      this.end(endNotice(failure, this.state.status));
      return undefined;
    }
    throw failure;
  }

  private signedIn(tokens: Tokens): string {
    const lifetimeMs = tokens.expires_in * 1000;
    this.access = { token: tokens.access_token, expiresAt: this.now() + lifetimeMs };
    clearTimeout(this.timer);
    // Ahead of expiry, so requests rarely meet an expired token; a failure here is retried on next use.
    this.timer = setTimeout(() => void this.refresh().catch(() => {}), Math.min(lifetimeMs * REFRESH_AT, 2 ** 31 - 1));
    this.setState({ status: "signedIn", ...claimsFromToken(tokens.access_token) });
    return tokens.access_token;
  }

  /** Forgets the access token; the page then shows the login form. */
  end(notice?: string): void {
    this.generation += 1;
    this.access = undefined;
    clearTimeout(this.timer);
    this.setState({ status: "signedOut", notice });
  }
}

/** A page load without a session is normal and says nothing; a lost session or a refused origin is told. */
function endNotice(failure: RestError, status: SessionStatus): string | undefined {
  if (failure.code === "origin_not_allowed") return sentence(failure.message);
  return status === "signedIn" ? MESSAGES.unauthenticated : undefined;
}
