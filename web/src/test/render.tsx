// Renders the app's routes at `path` with the real providers, over the fake server.

import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { AppRoutes, createQueryClient } from "../App";
import { createAuthClient, createLangClient } from "../api/rest";
import { Session } from "../api/session";
import { createTransport } from "../api/transport";
import { ServicesProvider } from "../session-context";

export const ORIGIN = window.location.origin;

export function newSession(): Session {
  return new Session(createAuthClient(ORIGIN));
}

export function renderApp(path: string, session: Session) {
  const queryClient = createQueryClient();
  // The real retry policy, without its waits.
  queryClient.setDefaultOptions({
    queries: { ...queryClient.getDefaultOptions().queries, retryDelay: 0 },
    mutations: { ...queryClient.getDefaultOptions().mutations, retryDelay: 0 },
  });
  const services = {
    session,
    lang: createLangClient(ORIGIN, session.fetch),
    auth: createAuthClient(ORIGIN, session.fetch),
    format: "json" as const,
    setFormat: () => {},
  };
  return render(
    <ServicesProvider value={services}>
      <TransportProvider transport={createTransport(ORIGIN, session, "json")}>
        <QueryClientProvider client={queryClient}>
          <MemoryRouter initialEntries={[path]}>
            <AppRoutes />
          </MemoryRouter>
        </QueryClientProvider>
      </TransportProvider>
    </ServicesProvider>,
  );
}
