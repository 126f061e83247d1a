// Plain curl for the REST services and for what the edge answers itself.

import { run } from "./exec.js";

export interface HttpReply {
  status: number;
  /** Lower-cased header names; the last value wins. */
  headers: Record<string, string>;
  body: string;
}

export interface CurlOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as a JSON body with `content-type: application/json`. */
  json?: unknown;
  /** Local address to send from (another 127/8 address is another client to the edge). */
  from?: string;
  http2PriorKnowledge?: boolean;
  /** A file sent as the body as it is (`--data-binary @file`); set the content type in `headers`. */
  dataFile?: string;
  /** Query parameters, percent-encoded by curl (`--get --data-urlencode`). */
  query?: Record<string, string>;
}

let defaultSource: string | undefined;

/** Sends every later request from `address` unless a call names its own. */
export function sendFrom(address: string): void {
  defaultSource = address;
}

/** A random 127/8 address other than 127.0.0.1: another client, as the edge sees it. */
export function randomLoopback(): string {
  const octet = (min: number) => min + Math.floor(Math.random() * 250);
  return `127.${octet(1)}.${octet(0)}.${octet(2)}`;
}

export async function curl(url: string, options: CurlOptions = {}): Promise<HttpReply> {
  const sends = options.json !== undefined || options.dataFile !== undefined;
  const args = ["-sS", "-i", "--max-time", "20", "-X", options.method ?? (sends ? "POST" : "GET")];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}: ${value}`);
  if (options.json !== undefined) {
    args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(options.json));
  }
  if (options.dataFile !== undefined) args.push("--data-binary", `@${options.dataFile}`);
  if (options.query) {
    args.push("--get");
    for (const [name, value] of Object.entries(options.query)) args.push("--data-urlencode", `${name}=${value}`);
  }
  const from = options.from ?? defaultSource;
  if (from) args.push("--interface", from);
  if (options.http2PriorKnowledge) args.push("--http2-prior-knowledge");
  args.push(url);
  const ran = await run("curl", args);
  if (ran.code !== 0) throw new Error(`curl ${url} exited ${ran.code}: ${ran.stderr.trim()}`);
  return parse(ran.stdout);
}

/** Splits `curl -i` output, skipping interim (1xx) responses. */
function parse(raw: string): HttpReply {
  let rest = raw;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    const head = end < 0 ? rest : rest.slice(0, end);
    const body = end < 0 ? "" : rest.slice(end + 4);
    const [statusLine, ...lines] = head.split("\r\n");
    const status = Number(statusLine.split(" ")[1]);
    if (status >= 100 && status < 200 && body.startsWith("HTTP/")) {
      rest = body;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body };
  }
}

/** The body as JSON, or a failure naming what came instead. */
export function json<T = any>(reply: HttpReply): T {
  try {
    return JSON.parse(reply.body) as T;
  } catch {
    throw new Error(`expected JSON, got ${reply.status} ${JSON.stringify(reply.body.slice(0, 200))}`);
  }
}
