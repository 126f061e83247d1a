// Every failure a person sees goes through here: Connect errors, REST
// errors and network failures become one sentence they can act on.

import { Code, ConnectError } from "@connectrpc/connect";
import { RestError, parseRetryAfter } from "./rest";

export const MESSAGES = {
  unavailable: "The service is unavailable, try again.",
  offline: "Can't reach the service: check your connection and try again.",
  unauthenticated: "Your session has ended: log in again.",
  permissionDenied: "You don't have access to this.",
  invalidCredentials: "The email or password is incorrect.",
  emailTaken: "An account with this email already exists.",
  timeout: "The service took too long to answer, try again.",
  unknown: "Something went wrong, try again.",
} as const;

/** "Too many attempts: try again in 37 seconds." */
export function retryMessage(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "Too many attempts: wait a moment and try again.";
  if (seconds < 90) return `Too many attempts: try again in ${plural(Math.max(1, Math.ceil(seconds)), "second")}.`;
  return `Too many attempts: try again in ${plural(Math.ceil(seconds / 60), "minute")}.`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** Server messages are lowercase clauses ("name is required: …"); shown as sentences. */
export function sentence(message: string): string {
  const trimmed = message.trim();
  if (!trimmed) return MESSAGES.unknown;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function withRequestId(message: string, requestId: string | null | undefined): string {
  return requestId ? `${message} (request id ${requestId})` : message;
}

export function describeError(error: unknown): string {
  if (error instanceof RestError) return describeRest(error);
  if (error instanceof ConnectError) return describeConnect(error);
  // fetch rejects with a TypeError when the network fails.
  if (error instanceof TypeError) return MESSAGES.offline;
  return MESSAGES.unknown;
}

function describeRest(e: RestError): string {
  if (e.status === 429) return retryMessage(e.retryAfter);
  if (e.code === "invalid_credentials") return MESSAGES.invalidCredentials;
  if (e.code === "email_taken") return MESSAGES.emailTaken;
  if (e.status === 401) return MESSAGES.unauthenticated;
  if (e.status === 403) return e.code === "origin_not_allowed" ? sentence(e.message) : MESSAGES.permissionDenied;
  if (e.status === 502 || e.status === 503 || e.status === 504) return MESSAGES.unavailable;
  if (e.status >= 500) return withRequestId(MESSAGES.unknown, e.requestId);
  // 400, 404, 409, 422: the server says what is wrong.
  return sentence(e.message);
}

function describeConnect(e: ConnectError): string {
  switch (e.code) {
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
    case Code.AlreadyExists:
    case Code.NotFound:
      return sentence(e.rawMessage);
    case Code.ResourceExhausted:
      return retryMessage(parseRetryAfter(e.metadata.get("retry-after")));
    case Code.Unavailable:
      // The edge's rate limiter answers HTTP 429, which Connect reads as Unavailable.
      return e.metadata.get("retry-after") ? retryMessage(parseRetryAfter(e.metadata.get("retry-after"))) : MESSAGES.unavailable;
    case Code.Unauthenticated:
      return MESSAGES.unauthenticated;
    case Code.PermissionDenied:
      return MESSAGES.permissionDenied;
    case Code.DeadlineExceeded:
      return MESSAGES.timeout;
    case Code.Canceled:
      return "The request was cancelled.";
    default:
      return withRequestId(MESSAGES.unknown, e.metadata.get("x-request-id"));
  }
}

const NEVER_RETRIED = new Set([Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated]);
/** What may pass by itself: outages, lost connections, contention. */
const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.Aborted, Code.Internal, Code.DeadlineExceeded]);

/**
 * TanStack Query's retry policy: a request the server refused (invalid,
 * unauthorised, missing, throttled) fails the same way again, so only
 * transient failures are retried, at most twice. Writes keep their
 * idempotency key across retries, so a retried write is not repeated.
 */
export function shouldRetry(failureCount: number, error: unknown): boolean {
  if (failureCount >= 2) return false;
  if (error instanceof ConnectError) {
    if (NEVER_RETRIED.has(error.code) || !TRANSIENT.has(error.code)) return false;
    // The edge's 429 reads as Unavailable with Retry-After: waiting is the answer, not retrying.
    return !error.metadata.get("retry-after");
  }
  if (error instanceof RestError) return error.status >= 500;
  return true;
}
