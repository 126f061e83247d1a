// Live greetings from greeter.v1.GreeterService/WatchGreetings, a server
// stream. Heartbeats only say the watch is in place. A stream the server
// ends or drops (UNAVAILABLE when a replica shuts down, RESOURCE_EXHAUSTED
// for a slow reader) is opened again after a growing, jittered pause; an
// expired token gets one refresh. Unmounting cancels it.

import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "react";
import { describeError } from "../api/errors";
import type { Session } from "../api/session";
import { GreeterService, type Greeting } from "../gen/greeter/v1/greeter_pb";

export type WatchState =
  | { state: "connecting" }
  | { state: "live" }
  | { state: "reconnecting"; inSeconds: number }
  | { state: "stopped"; message: string };

/** Worth opening again: the server went away or dropped us. */
const RECONNECT = new Set([Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded, Code.Unknown, Code.Internal]);
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** Full jitter below an exponential ceiling, so clients that lost one replica do not return in step. */
export function backoff(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

interface Handlers {
  onGreeting: (greeting: Greeting) => void;
  /** The watch is (again) in place: greetings stored while it was not may have been missed. */
  onConnected?: () => void;
}

export async function watchGreetings(
  transport: Transport,
  session: Session,
  handlers: Handlers,
  setState: (state: WatchState) => void,
  signal: AbortSignal,
): Promise<void> {
  const client = createClient(GreeterService, transport);
  let attempt = 0; // failed attempts in a row, for the backoff
  let refreshed = false; // an Unauthenticated got its one refresh since the last connect
  const stop = (error: ConnectError) => setState({ state: "stopped", message: describeError(error) });
  while (!signal.aborted) {
    let connected = false;
    try {
      for await (const res of client.watchGreetings({}, { signal })) {
        if (res.event.case === "greeting") handlers.onGreeting(res.event.value);
        else if (res.event.case === "heartbeat" && !connected) {
          connected = true;
          attempt = 0;
          refreshed = false;
          setState({ state: "live" });
          handlers.onConnected?.();
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      const error = ConnectError.from(e);
      if (error.code === Code.Unauthenticated) {
        if (refreshed) return stop(error);
        refreshed = true;
        // One shared refresh; undefined means the session is over (the page then goes to the login form).
        if (!(await session.refresh().catch(() => undefined))) return stop(error);
        continue;
      }
      if (!RECONNECT.has(error.code)) return stop(error);
    }
    if (signal.aborted) return;
    const delay = backoff(attempt++);
    setState({ state: "reconnecting", inSeconds: Math.ceil(delay / 1000) });
    await sleep(delay, signal);
  }
}

export function useWatchGreetings(transport: Transport, session: Session, handlers: Handlers): WatchState {
  const [state, setState] = useState<WatchState>({ state: "connecting" });
  // The latest handlers, without reopening the stream when they change.
  const latest = useRef(handlers);
  latest.current = handlers;
  useEffect(() => {
    const abort = new AbortController();
    void watchGreetings(
      transport,
      session,
      { onGreeting: (g) => latest.current.onGreeting(g), onConnected: () => latest.current.onConnected?.() },
      setState,
      abort.signal,
    );
    return () => abort.abort();
  }, [transport, session]);
  return state;
}
