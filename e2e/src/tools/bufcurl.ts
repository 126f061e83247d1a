// `buf curl` (the binary the @bufbuild/buf npm package ships) as an RPC client.

import { run } from "./exec.js";
import { type Json, type Outcome, type Protocol, type RpcClient, type Service, SERVICE_NAMES } from "../rpc.js";

export interface BufCurlOptions {
  buf: string;
  protocol: Protocol;
  baseUrl: (service: Service) => string;
  /** Directory of .proto files; without it the server's reflection is used. */
  schema?: string;
}

export class BufCurl implements RpcClient {
  readonly name: string;

  constructor(private readonly options: BufCurlOptions) {
    this.name = `buf-curl/${options.protocol}`;
  }

  async call(service: Service, method: string, request: Json, token?: string): Promise<Outcome> {
    const { buf, protocol, baseUrl, schema } = this.options;
    const args = ["curl", "--protocol", protocol, "--connect-timeout", "5", "-d", JSON.stringify(request)];
    if (protocol === "grpc") args.push("--http2-prior-knowledge");
    if (schema) args.push("--schema", schema);
    if (token !== undefined) args.push("-H", `Authorization: Bearer ${token}`);
    args.push(`${baseUrl(service)}/${SERVICE_NAMES[service]}/${method}`);
    const ran = await run(buf, args);
    if (ran.code === 0) return { ok: true, value: JSON.parse(ran.stdout) };
    // RPC errors come as a JSON object on stderr; anything else is the tool failing.
    try {
      const error = JSON.parse(ran.stderr) as {
        code?: string;
        message?: string;
        details?: { type: string; value: string; debug?: Json }[];
      };
      if (typeof error.code === "string") {
        const details = (error.details ?? []).map((d) => ({
          type: d.type,
          value: Uint8Array.from(Buffer.from(d.value, "base64")),
          debug: d.debug,
        }));
        return { ok: false, code: error.code, message: error.message ?? "", details };
      }
    } catch {
      // fall through
    }
    throw new Error(`buf curl exited ${ran.code}: ${ran.stderr.trim() || ran.stdout.trim()}`);
  }
}
