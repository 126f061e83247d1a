// Live greetings from greeter.v1.GreeterService/WatchGreetings, a server
// stream kept open by api/watch.ts. Heartbeats only say the watch is in
// place.

import { createClient, type Transport } from "@connectrpc/connect";
import { useKeepWatching, type WatchState } from "../api/watch";
import type { Session } from "../api/session";
import { GreeterService, type Greeting } from "../gen/greeter/v1/greeter_pb";

export type { WatchState } from "../api/watch";

interface Handlers {
  onGreeting: (greeting: Greeting) => void;
  /** The watch is (again) in place: greetings stored while it was not may have been missed. */
  onConnected?: () => void;
}

export function useWatchGreetings(transport: Transport, session: Session, handlers: Handlers): WatchState {
  return useKeepWatching(
    (signal) => createClient(GreeterService, transport).watchGreetings({}, { signal }),
    (res) => {
      if (res.event.case === "greeting") handlers.onGreeting(res.event.value);
      return res.event.case === "heartbeat";
    },
    session,
    [transport],
    () => handlers.onConnected?.(),
  );
}
