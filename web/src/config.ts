// Where the site's APIs are and how Connect calls are encoded.
//
// Everything is same-origin: the edge routes /auth/*, /lang/* and the Connect
// services next to the site, and Vite's dev server proxies them to the edge.
// That keeps the refresh cookie (SameSite=Strict) and the CSP's
// `connect-src 'self'` simple.

export const API_BASE_URL = window.location.origin;

export type WireFormat = "json" | "binary";

/** Connect JSON unless the page was opened with `?format=binary`. */
export function initialWireFormat(search: string = window.location.search): WireFormat {
  return new URLSearchParams(search).get("format") === "binary" ? "binary" : "json";
}
