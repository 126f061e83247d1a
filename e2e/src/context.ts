// What every step shares: where the platform answers, the clients, the account.

import { resolve } from "node:path";
import { Report } from "./report.js";
import { type Protocol, PROTOCOLS, type RpcClient, type Service } from "./rpc.js";
import { BufCurl } from "./tools/bufcurl.js";
import { connectNode, connectWeb } from "./tools/connect.js";
import { curl } from "./tools/curl.js";
import { Target } from "./tools/target.js";

export type Mode = "edge" | "direct";

export interface Urls {
  greeter: string;
  gateway: string;
  auth: string;
  lang: string;
  edge: string;
}

export interface Account {
  email: string;
  password: string;
  id: string;
  access: string;
  refresh: string;
}

export interface Context {
  report: Report;
  mode: Mode;
  urls: Urls;
  rpcs: RpcClient[];
  target: Target;
  /** Unique per run, so runs against one stack do not collide. */
  run: string;
  /** Sections left out (E2E_SKIP), e.g. "gateway" while it is being built. */
  skip: Set<string>;
  account?: Account;
  /** devstack's local admin's access token, once logged in. */
  admin?: string;
}

const env = (name: string, fallback: string) => process.env[name] || fallback;

/** Edge mode when Traefik answers a public route (or E2E_MODE says so). */
async function detectMode(edge: string): Promise<Mode> {
  const forced = process.env.E2E_MODE;
  if (forced === "edge" || forced === "direct") return forced;
  if (forced) throw new Error(`E2E_MODE must be "edge" or "direct", not ${JSON.stringify(forced)}`);
  try {
    return (await curl(`${edge}/lang/v1/languages`)).status === 200 ? "edge" : "direct";
  } catch {
    return "direct";
  }
}

export async function createContext(): Promise<Context> {
  const edge = env("E2E_EDGE_URL", "http://127.0.0.1:30081");
  const mode = await detectMode(edge);
  const direct: Urls = {
    greeter: env("E2E_GREETER_URL", "http://127.0.0.1:8080"),
    gateway: env("E2E_GATEWAY_URL", "http://127.0.0.1:8082"),
    auth: env("E2E_AUTH_URL", "http://127.0.0.1:8090"),
    lang: env("E2E_LANG_URL", "http://127.0.0.1:3000"),
    edge,
  };
  // Through the edge every public route is on its one port.
  const urls: Urls = mode === "edge" ? { greeter: edge, gateway: edge, auth: edge, lang: edge, edge } : direct;
  const baseUrl = (s: Service) => urls[s];
  // The repository's proto/ and the buf binary of the root package.json.
  const root = resolve(env("E2E_ROOT", ".."));
  const buf = env("E2E_BUF", resolve(root, "node_modules/.bin/buf"));
  const schema = resolve(root, "proto");
  // Reflection is a streaming RPC the platform serves over gRPC and gRPC-Web
  // only, and the edge routes no reflection: there buf curl reads proto/.
  const useSchema = (p: Protocol) => mode === "edge" || p === "connect";
  const rpcs: RpcClient[] = [
    ...PROTOCOLS.map(
      (protocol) => new BufCurl({ buf, protocol, baseUrl, schema: useSchema(protocol) ? schema : undefined }),
    ),
    ...PROTOCOLS.map((protocol) => connectNode(protocol, baseUrl)),
    ...PROTOCOLS.map((protocol) => connectNode(protocol, baseUrl, { gzip: true })),
    connectNode("connect", baseUrl, { binary: true, gzip: true }),
    connectWeb(baseUrl, false),
    connectWeb(baseUrl, true),
  ];
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const skip = new Set((process.env.E2E_SKIP ?? "").split(",").filter(Boolean));
  return { report: new Report(), mode, urls, rpcs, target: await Target.start(), run, skip };
}

/** The logged-in account; steps after sign-up fail clearly without one. */
export function account(ctx: Context): Account {
  if (!ctx.account) throw new Error("no account: sign-up or login failed earlier");
  return ctx.account;
}
