// The Connect transport every RPC goes through: same origin, Connect JSON by
// default or binary protobuf, with the user's access token.

import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { WireFormat } from "../config";
import type { Session } from "./session";

/**
 * Adds `Authorization: Bearer <access token>`. A unary call answered
 * Unauthenticated gets one silent refresh (shared with every other caller)
 * and one retry; streams cannot be replayed here, their owners re-open them.
 */
export function authInterceptor(session: Session): Interceptor {
  return (next) => async (req) => {
    const token = await session.token();
    if (token) req.header.set("Authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (e) {
      if (!token || req.stream || ConnectError.from(e).code !== Code.Unauthenticated) throw e;
      const fresh = await session.afterUnauthorized(token);
      if (!fresh) throw e;
      req.header.set("Authorization", `Bearer ${fresh}`);
      return await next(req);
    }
  };
}

export function createTransport(baseUrl: string, session: Session, format: WireFormat): Transport {
  return createConnectTransport({
    baseUrl,
    useBinaryFormat: format === "binary",
    interceptors: [authInterceptor(session)],
    // Looked up per call, so tests can stub fetch; same-origin sends no cookie to the RPCs anyway.
    fetch: (input, init) => globalThis.fetch(input, init),
  });
}

/**
 * A transport that adds headers computed at call time to every unary call:
 * connect-query's useMutation has no per-call headers, and each submission
 * needs its own `idempotency-key` (its retries keep it).
 */
export function withHeaders(transport: Transport, headers: () => Record<string, string>): Transport {
  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      const merged = new Headers(header);
      for (const [name, value] of Object.entries(headers())) merged.set(name, value);
      return transport.unary(method, signal, timeoutMs, merged, input, contextValues);
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      return transport.stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}
