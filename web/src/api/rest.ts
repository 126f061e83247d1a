// Typed REST clients for auth and lang (openapi-fetch over the generated
// OpenAPI types) and the one error type their failures become.

import createClient, { type Client } from "openapi-fetch";
import type { paths as AuthPaths } from "../gen/openapi/auth";
import type { paths as LangPaths } from "../gen/openapi/lang";

export type AuthClient = Client<AuthPaths>;
export type LangClient = Client<LangPaths>;
export type Fetch = (request: Request) => Promise<Response>;

/** Looks fetch up at call time, so tests can stub the global. */
const globalFetch: Fetch = (request) => globalThis.fetch(request);

// `credentials: same-origin` (fetch's default, stated here because the
// refresh cookie depends on it) sends the cookie to /auth/refresh and /auth/logout.
export function createAuthClient(baseUrl: string, fetch: Fetch = globalFetch): AuthClient {
  return createClient<AuthPaths>({ baseUrl, fetch, credentials: "same-origin" });
}

export function createLangClient(baseUrl: string, fetch: Fetch = globalFetch): LangClient {
  return createClient<LangPaths>({ baseUrl, fetch, credentials: "same-origin" });
}

/** A REST answer other than 2xx: the status, auth's or lang's `error.code` and `error.message`. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait, from Retry-After, when the server said. */
    readonly retryAfter?: number,
    /** X-Request-Id, for a person to quote. */
    readonly requestId?: string,
  ) {
    super(message);
    this.name = "RestError";
  }
}

/** Seconds from a Retry-After value (delta-seconds or an HTTP date). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/** The platform's error body is `{"error": {"code", "message"}}`; the edge's own answers are plain text. */
export function toRestError(response: Response, body: unknown): RestError {
  const detail = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof detail?.code === "string" ? detail.code : "";
  const text = typeof body === "string" ? body.trim() : "";
  const message = typeof detail?.message === "string" ? detail.message : text || response.statusText;
  // Auth also says it in words ("try again in 37 seconds"): a fallback when the header is missing.
  const retryAfter =
    parseRetryAfter(response.headers.get("retry-after")) ??
    (response.status === 429 ? Number(/try again in (\d+) second/.exec(message)?.[1]) || undefined : undefined);
  return new RestError(response.status, code, message, retryAfter, response.headers.get("x-request-id") ?? undefined);
}

/** The answer's data, or its failure as a RestError. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toRestError(response, error);
  return data as T;
}
