import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { createAuthClient } from "./api/rest";
import { Session } from "./api/session";
import { API_BASE_URL } from "./config";
import "./styles.css";

const session = new Session(createAuthClient(API_BASE_URL));
// A reload keeps no token: the refresh cookie, if any, brings the session back.
void session.restore();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App session={session} />
  </StrictMode>,
);
