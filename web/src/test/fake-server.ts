// A stand-in for the edge in unit tests: a fetch function that answers
// auth's cookie-mode routes and greeter's Connect RPCs the way the real
// services do, and records every request it saw.

import { vi } from "vitest";

export interface Seen {
  method: string;
  path: string;
  /** The query string's parameters. */
  query: URLSearchParams;
  headers: Headers;
  body: string;
  credentials: RequestCredentials | undefined;
}

export type Handler = (req: Seen) => Response | Promise<Response> | undefined;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function restError(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message } }, headers);
}

/** A JWT-shaped token whose payload carries `email` (no real signature: the client never verifies it). */
export function fakeJwt(email: string, n: number, roles: string[] = []): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64({ alg: "EdDSA" })}.${b64({ sub: "u1", email, n, ...(roles.length ? { roles } : {}) })}.sig${n}`;
}

/** Connect's server-stream framing: each message enveloped, then the end-stream message. */
export function envelope(messages: unknown[], end: unknown = {}): Uint8Array<ArrayBuffer> {
  const parts = [...messages.map((m) => [0, m] as const), [2, end] as const].map(([flags, m]) => {
    const data = new TextEncoder().encode(JSON.stringify(m));
    const frame = new Uint8Array(5 + data.length);
    frame[0] = flags;
    new DataView(frame.buffer).setUint32(1, data.length);
    frame.set(data, 5);
    return frame;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A Connect server stream that sends `messages` and stays open, as a watch does. */
export function openStream(messages: unknown[]): Response {
  const body = envelope(messages);
  const withoutEnd = body.subarray(0, body.length - 7); // the end-stream frame "{}" is 5 + 2 bytes
  return new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(withoutEnd);
      },
    }),
    { status: 200, headers: { "content-type": "application/connect+json" } },
  );
}

export interface FakeServer {
  fetch: ReturnType<typeof vi.fn>;
  seen: Seen[];
  /** Requests to `path`. */
  to(path: string): Seen[];
  /** Access tokens greeter and auth accept; revoke one to make them answer 401. */
  valid: Set<string>;
  /** What POST /auth/refresh answers next; defaults to a new token. */
  refreshAnswer?: () => Response | Promise<Response>;
  /** Extra routes, tried first. */
  routes: Handler[];
  issue(): string;
  email: string;
  /** The roles the tokens it issues carry. */
  roles: string[];
}

/** Installs the fake as the global fetch. */
export function fakeServer(email = "ada@example.com"): FakeServer {
  let n = 0;
  const server: FakeServer = {
    seen: [],
    valid: new Set(),
    routes: [],
    email,
    roles: [],
    to: (path) => server.seen.filter((s) => s.path === path),
    issue: () => {
      const token = fakeJwt(email, ++n, server.roles);
      server.valid.add(token);
      return token;
    },
    fetch: vi.fn(),
  };
  const tokens = () => ({ access_token: server.issue(), token_type: "Bearer", expires_in: 900, refresh_expires_in: 2592000 });
  const bearer = (s: Seen) => server.valid.has(s.headers.get("authorization")?.replace(/^Bearer /, "") ?? "");
  const unauthenticated = () => json(401, { code: "unauthenticated", message: "the access token is invalid or expired" });

  const answer = async (s: Seen): Promise<Response> => {
    for (const route of server.routes) {
      const r = await route(s);
      if (r) return r;
    }
    switch (s.path) {
      case "/auth/signup":
        return json(201, { user: { id: "u1", email, roles: [], created_at: "2026-01-01T00:00:00Z" }, tokens: tokens() });
      case "/auth/login":
        return json(200, tokens());
      case "/auth/refresh":
        return server.refreshAnswer ? server.refreshAnswer() : json(200, tokens());
      case "/auth/logout":
        return new Response(null, { status: 204 });
      case "/auth/logout-all":
        return bearer(s) ? new Response(null, { status: 204 }) : restError(401, "unauthorized", "no valid token");
      case "/auth/me":
        return bearer(s) ? json(200, { id: "u1", email, roles: [], created_at: "2026-01-01T00:00:00Z" }) : restError(401, "unauthorized", "no valid token");
      case "/greeter.v1.GreeterService/Greet": {
        if (!bearer(s)) return unauthenticated();
        const { name } = JSON.parse(s.body || "{}");
        return json(200, { greeting: `Hello, ${name}!`, externalStatus: 200, greetingId: "1", createdAt: "2026-01-01T00:00:00Z" });
      }
      case "/greeter.v1.GreeterService/ListGreetings":
        return bearer(s) ? json(200, { greetings: [] }) : unauthenticated();
      default:
        return new Response("404 page not found", { status: 404, headers: { "content-type": "text/plain" } });
    }
  };

  server.fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    // Read what was sent without handing jsdom's AbortSignal to Node's Request.
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : input.toString());
    const headers = new Headers(request ? request.headers : init?.headers);
    const body = request ? await request.clone().text() : init?.body == null ? "" : await new Response(init.body).text();
    const seen: Seen = {
      method: request?.method ?? init?.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers,
      body,
      credentials: request?.credentials ?? init?.credentials,
    };
    server.seen.push(seen);
    return answer(seen);
  });
  vi.stubGlobal("fetch", server.fetch);
  return server;
}
