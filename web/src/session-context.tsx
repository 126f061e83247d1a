// The Session object and the wire format, for components, and the route
// guards that send signed-out visitors to the login page.

import { createContext, useContext, useSyncExternalStore, type ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import type { AuthClient, LangClient } from "./api/rest";
import type { Session, SessionState } from "./api/session";
import type { WireFormat } from "./config";
import { Page } from "./components/Page";
import { Loading } from "./components/Status";

export interface AppServices {
  session: Session;
  lang: LangClient;
  /** auth with the bearer token: its admin routes. */
  auth: AuthClient;
  format: WireFormat;
  setFormat: (format: WireFormat) => void;
}

const ServicesContext = createContext<AppServices | null>(null);

export const ServicesProvider = ServicesContext.Provider;

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices outside ServicesProvider");
  return services;
}

export function useSession(): Session {
  return useServices().session;
}

export function useSessionState(): SessionState {
  const session = useSession();
  return useSyncExternalStore(session.subscribe, session.getState);
}

/** Where a guard sent the visitor from, so the login page can send them back. */
export interface FromState {
  from?: string;
  email?: string;
}

/** Pages for signed-in users: others go to the login page (and come back after). */
export function RequireSession({ children }: { children: ReactNode }) {
  const { status } = useSessionState();
  const location = useLocation();
  if (status === "restoring") return <Loading label="Restoring your session…" />;
  if (status === "signedOut") {
    const state: FromState = { from: location.pathname + location.search };
    return <Navigate to="/login" replace state={state} />;
  }
  return <>{children}</>;
}

/** Pages for signed-out visitors (login, sign-up): a signed-in user goes on to where they were headed. */
export function RequireGuest({ children }: { children: ReactNode }) {
  const { status } = useSessionState();
  const location = useLocation();
  if (status === "restoring") return <Loading label="Restoring your session…" />;
  if (status === "signedIn") {
    const from = (location.state as FromState | null)?.from;
    return <Navigate to={from && from !== "/login" && from !== "/signup" ? from : "/greet"} replace />;
  }
  return <>{children}</>;
}

/**
 * Pages for admins. A signed-in user without the admin role is told so and
 * gets no form; the services refuse them anyway (403), this only spares
 * them a page that cannot work.
 */
export function RequireAdmin({ children }: { children: ReactNode }) {
  const { roles } = useSessionState();
  if (!roles?.includes("admin")) {
    return (
      <Page title="Admins only">
        <p role="alert">This page is for admins: your account does not have the admin role.</p>
      </Page>
    );
  }
  return <>{children}</>;
}
