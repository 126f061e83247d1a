// Keeping a server stream open: a stream the server ends or drops
// (UNAVAILABLE when a replica shuts down, RESOURCE_EXHAUSTED for a slow
// reader) is opened again after a growing, jittered pause; an expired token
// gets one refresh; anything else stops it with a message. Unmounting
// cancels it. Used by every live view (greetings, the overview).

import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "react";
import { describeError } from "./errors";
import type { Session } from "./session";

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

/**
 * Opens `open(signal)` again and again until `signal` aborts or a failure
 * is not worth retrying. `onMessage` returns true for a message that says
 * the stream is in place (a heartbeat, a snapshot): at the first one of each
 * connection the state turns live, the backoff starts over and `onLive`
 * runs (what was missed while the stream was down may need fetching).
 */
export async function keepWatching<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  onMessage: (message: T) => boolean,
  session: Session,
  setState: (state: WatchState) => void,
  signal: AbortSignal,
  onLive: () => void = () => {},
): Promise<void> {
  let attempt = 0; // failed attempts in a row, for the backoff
  let refreshed = false; // an Unauthenticated got its one refresh since the last connect
  const stop = (error: ConnectError) => setState({ state: "stopped", message: describeError(error) });
  while (!signal.aborted) {
    let connected = false;
    try {
      for await (const message of open(signal)) {
        if (onMessage(message) && !connected) {
          connected = true;
          attempt = 0;
          refreshed = false;
          setState({ state: "live" });
          onLive();
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

/** `keepWatching` for a component: reopened when `deps` change, cancelled on unmount. */
export function useKeepWatching<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  onMessage: (message: T) => boolean,
  session: Session,
  deps: unknown[],
  onLive?: () => void,
): WatchState {
  const [state, setState] = useState<WatchState>({ state: "connecting" });
  // The latest callbacks, without reopening the stream when they change.
  const latest = useRef({ open, onMessage, onLive });
  latest.current = { open, onMessage, onLive };
  useEffect(() => {
    const abort = new AbortController();
    void keepWatching(
      (signal) => latest.current.open(signal),
      (m) => latest.current.onMessage(m),
      session,
      setState,
      abort.signal,
      () => latest.current.onLive?.(),
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session, ...deps]);
  return state;
}
