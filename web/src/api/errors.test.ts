import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { MESSAGES, describeError, retryMessage, shouldRetry } from "./errors";
import { RestError, parseRetryAfter, toRestError } from "./rest";

const connect = (code: Code, message = "", headers: Record<string, string> = {}) =>
  new ConnectError(message, code, new Headers(headers));

describe("describeError: Connect", () => {
  it("shows the server's message for InvalidArgument, as a sentence", () => {
    expect(describeError(connect(Code.InvalidArgument, "name is required: send 1-100 characters"))).toBe(
      "Name is required: send 1-100 characters.",
    );
  });

  it("maps the codes a person can act on", () => {
    expect(describeError(connect(Code.Unavailable))).toBe("The service is unavailable, try again.");
    expect(describeError(connect(Code.Unauthenticated, "no bearer token"))).toBe(MESSAGES.unauthenticated);
    expect(describeError(connect(Code.PermissionDenied, "admins only"))).toBe("You don't have access to this.");
    expect(describeError(connect(Code.DeadlineExceeded))).toBe(MESSAGES.timeout);
  });

  it("gives the retry time for ResourceExhausted, and for the edge's 429 (read as Unavailable)", () => {
    expect(describeError(connect(Code.ResourceExhausted, "slow down", { "retry-after": "37" }))).toBe(
      "Too many attempts: try again in 37 seconds.",
    );
    expect(describeError(connect(Code.ResourceExhausted, "slow down"))).toBe(
      "Too many attempts: wait a moment and try again.",
    );
    expect(describeError(connect(Code.Unavailable, "", { "retry-after": "2" }))).toBe(
      "Too many attempts: try again in 2 seconds.",
    );
  });

  it("quotes the request id of an unexpected failure", () => {
    expect(describeError(connect(Code.Internal, "boom", { "x-request-id": "abc123" }))).toBe(
      "Something went wrong, try again. (request id abc123)",
    );
  });
});

describe("describeError: REST", () => {
  const rest = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    toRestError(new Response(null, { status, headers }), { error: { code, message } });

  it("429: the wait from Retry-After", () => {
    expect(describeError(rest(429, "too_many_requests", "too many failed logins; try again in 37 seconds", { "retry-after": "37" }))).toBe(
      "Too many attempts: try again in 37 seconds.",
    );
  });

  it("429 without the header: the wait from auth's message", () => {
    expect(describeError(rest(429, "too_many_requests", "too many sign-ups; try again in 12 seconds"))).toBe(
      "Too many attempts: try again in 12 seconds.",
    );
  });

  it("429 from the edge (plain text, no JSON)", () => {
    const e = toRestError(new Response(null, { status: 429 }), "Too Many Requests");
    expect(describeError(e)).toBe("Too many attempts: wait a moment and try again.");
  });

  it("401 on login, 409 email taken, 422 auth's message", () => {
    expect(describeError(rest(401, "invalid_credentials", "the email or password is incorrect"))).toBe(
      "The email or password is incorrect.",
    );
    expect(describeError(rest(409, "email_taken", "an account with this email already exists; log in instead"))).toBe(
      "An account with this email already exists.",
    );
    expect(describeError(rest(422, "weak_password", "the password is too weak; it needs at least 5 different characters"))).toBe(
      "The password is too weak; it needs at least 5 different characters.",
    );
  });

  it("401 elsewhere, 403, 503", () => {
    expect(describeError(rest(401, "unauthorized", "no bearer token"))).toBe(MESSAGES.unauthenticated);
    expect(describeError(rest(403, "forbidden", "admins only"))).toBe(MESSAGES.permissionDenied);
    expect(describeError(rest(503, "unavailable", "the account store is unavailable; try again"))).toBe(MESSAGES.unavailable);
  });

  it("a network failure", () => {
    expect(describeError(new TypeError("Failed to fetch"))).toBe(MESSAGES.offline);
  });
});

describe("retry times", () => {
  it("reads Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("37")).toBe(37);
    expect(parseRetryAfter(new Date(10_000 + 5_000).toUTCString(), 10_000)).toBe(5);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("words long waits in minutes", () => {
    expect(retryMessage(1)).toBe("Too many attempts: try again in 1 second.");
    expect(retryMessage(900)).toBe("Too many attempts: try again in 15 minutes.");
  });
});

describe("shouldRetry", () => {
  it("never retries invalid_argument, permission_denied, unauthenticated", () => {
    for (const code of [Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated]) {
      expect(shouldRetry(0, connect(code)), Code[code]).toBe(false);
    }
  });

  it("never retries a 4xx REST answer", () => {
    for (const status of [400, 401, 403, 404, 409, 422, 429]) {
      expect(shouldRetry(0, new RestError(status, "x", "x")), String(status)).toBe(false);
    }
  });

  it("never retries what fails the same way again, nor a throttled call", () => {
    for (const error of [
      connect(Code.NotFound),
      connect(Code.Unimplemented),
      connect(Code.AlreadyExists),
      connect(Code.FailedPrecondition),
      connect(Code.ResourceExhausted),
      connect(Code.Unavailable, "", { "retry-after": "30" }),
    ]) {
      expect(shouldRetry(0, error), error.message).toBe(false);
    }
  });

  it("retries transient failures up to twice", () => {
    for (const error of [connect(Code.Unavailable), connect(Code.Internal), new RestError(503, "x", "x"), new TypeError("offline")]) {
      expect([0, 1, 2].map((n) => shouldRetry(n, error))).toEqual([true, true, false]);
    }
  });
});
