// Every page's frame: a skip link, the navigation (with logout and
// "log out everywhere" when signed in), the main landmark and a footer with
// the Connect wire-format switch.

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { NavLink, Outlet, useNavigate } from "react-router";
import { describeError } from "../api/errors";
import { useServices, useSessionState } from "../session-context";
import { ErrorMessage } from "./Status";

export function Layout() {
  const { session, format, setFormat } = useServices();
  const { status, email, roles } = useSessionState();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const signedOut = () => {
    // The next user of this tab must not see this one's data.
    queryClient.clear();
    navigate("/login", { replace: true });
  };
  const logout = useMutation({ mutationFn: () => session.logout(), onSuccess: signedOut, retry: false });
  const everywhere = useMutation({ mutationFn: () => session.logoutEverywhere(), onSuccess: signedOut, retry: false });
  const busy = logout.isPending || everywhere.isPending;
  const failure = logout.error ?? everywhere.error;

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <nav aria-label="Main" className="nav">
          <span className="brand">Platform</span>
          <ul className="nav-links">
            {status === "signedIn" ? (
              <>
                <li>
                  <NavLink to="/greet">Greet</NavLink>
                </li>
                <li>
                  <NavLink to="/history">History</NavLink>
                </li>
                <li>
                  <NavLink to="/localized">Localized</NavLink>
                </li>
                <li>
                  <NavLink to="/dashboard">Dashboard</NavLink>
                </li>
                <li>
                  <NavLink to="/language">Language</NavLink>
                </li>
                {roles?.includes("admin") && (
                  <>
                    <li>
                      <NavLink to="/translations">Translations</NavLink>
                    </li>
                    <li>
                      <NavLink to="/roles">Roles</NavLink>
                    </li>
                    <li>
                      <NavLink to="/audit">Audit</NavLink>
                    </li>
                  </>
                )}
              </>
            ) : (
              <>
                <li>
                  <NavLink to="/login">Log in</NavLink>
                </li>
                <li>
                  <NavLink to="/signup">Sign up</NavLink>
                </li>
              </>
            )}
          </ul>
          {status === "signedIn" && (
            <div className="account">
              {email && <span className="who">Signed in as {email}</span>}
              <button type="button" className="secondary" disabled={busy} onClick={() => logout.mutate()}>
                {logout.isPending ? "Logging out…" : "Log out"}
              </button>
              <button type="button" className="secondary" disabled={busy} onClick={() => everywhere.mutate()}>
                {everywhere.isPending ? "Logging out everywhere…" : "Log out everywhere"}
              </button>
            </div>
          )}
        </nav>
        {failure && <ErrorMessage>Could not log out: {describeError(failure)}</ErrorMessage>}
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer">
        <label className="inline">
          <input
            type="checkbox"
            checked={format === "binary"}
            onChange={(e) => setFormat(e.target.checked ? "binary" : "json")}
          />
          Send Connect calls as binary protobuf (JSON otherwise)
        </label>
      </footer>
    </>
  );
}
