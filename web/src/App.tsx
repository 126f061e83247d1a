// Providers and routes. The transport is rebuilt when the wire format
// changes; the session and the query cache live as long as the page.

import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { shouldRetry } from "./api/errors";
import { createAuthClient, createLangClient } from "./api/rest";
import type { Session } from "./api/session";
import { createTransport } from "./api/transport";
import { Layout } from "./components/Layout";
import { API_BASE_URL, initialWireFormat, type WireFormat } from "./config";
import { GreetPage } from "./pages/GreetPage";
import { HistoryPage } from "./pages/HistoryPage";
import { LanguagePage } from "./pages/LanguagePage";
import { LocalizedPage } from "./pages/LocalizedPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { AuditPage } from "./pages/AuditPage";
import { RolesPage } from "./pages/RolesPage";
import { SignupPage } from "./pages/SignupPage";
import { TranslationsPage } from "./pages/TranslationsPage";
import { RequireAdmin, RequireGuest, RequireSession, ServicesProvider } from "./session-context";
import { Loading } from "./components/Status";

// The dashboard carries the chart library: fetched when it is first opened, not with every page.
const DashboardPage = lazy(() => import("./pages/DashboardPage").then((m) => ({ default: m.DashboardPage })));

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: shouldRetry, refetchOnWindowFocus: false },
      mutations: { retry: shouldRetry },
    },
  });
}

export function App({ session, baseUrl = API_BASE_URL }: { session: Session; baseUrl?: string }) {
  const [format, setFormat] = useState<WireFormat>(initialWireFormat);
  const [queryClient] = useState(createQueryClient);
  const transport = useMemo(() => createTransport(baseUrl, session, format), [baseUrl, session, format]);
  const lang = useMemo(() => createLangClient(baseUrl, session.fetch), [baseUrl, session]);
  // auth's admin routes, with the bearer token (the session's own client goes without, by cookie).
  const auth = useMemo(() => createAuthClient(baseUrl, session.fetch), [baseUrl, session]);
  const services = useMemo(() => ({ session, lang, auth, format, setFormat }), [session, lang, auth, format]);

  // A session that ends (logout, or a refresh refused) takes its cached data with it.
  useEffect(
    () =>
      session.subscribe(() => {
        if (session.getState().status === "signedOut") queryClient.clear();
      }),
    [session, queryClient],
  );

  return (
    <ServicesProvider value={services}>
      <TransportProvider transport={transport}>
        <QueryClientProvider client={queryClient}>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </QueryClientProvider>
      </TransportProvider>
    </ServicesProvider>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/greet" replace />} />
        <Route path="login" element={<RequireGuest><LoginPage /></RequireGuest>} />
        <Route path="signup" element={<RequireGuest><SignupPage /></RequireGuest>} />
        <Route path="greet" element={<RequireSession><GreetPage /></RequireSession>} />
        <Route path="history" element={<RequireSession><HistoryPage /></RequireSession>} />
        <Route path="language" element={<RequireSession><LanguagePage /></RequireSession>} />
        <Route
          path="dashboard"
          element={
            <RequireSession>
              <Suspense fallback={<Loading label="Loading the dashboard…" />}>
                <DashboardPage />
              </Suspense>
            </RequireSession>
          }
        />
        <Route path="localized" element={<RequireSession><LocalizedPage /></RequireSession>} />
        <Route path="roles" element={<RequireSession><RequireAdmin><RolesPage /></RequireAdmin></RequireSession>} />
        <Route path="audit" element={<RequireSession><RequireAdmin><AuditPage /></RequireAdmin></RequireSession>} />
        <Route
          path="translations"
          element={<RequireSession><RequireAdmin><TranslationsPage /></RequireAdmin></RequireSession>}
        />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
