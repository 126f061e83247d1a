// One shape for every RPC client the suite drives, so each scenario step runs
// unchanged over buf curl and connect-node, on Connect, gRPC and gRPC-Web.
// Messages travel as canonical proto3 JSON (what buf curl prints, and what
// @bufbuild/protobuf's toJson gives), so the assertions are the same for all.

export type Json = any;

/** An error detail as clients receive it: a `google.rpc` type name, its bytes, and Connect's JSON form if sent. */
export interface Detail {
  type: string;
  value: Uint8Array;
  debug?: Json;
}

export type Outcome = { ok: true; value: Json } | { ok: false; code: string; message: string; details: Detail[] };

/** What a client saw of one call on the wire. */
export interface Exchange {
  method: string;
  /** GET or POST. */
  httpMethod: string;
  /** The response's content-encoding (Connect) or grpc-encoding (gRPC, gRPC-Web), if any. */
  encoding?: string;
}

export type Service = "greeter" | "gateway";

export const SERVICE_NAMES: Record<Service, string> = {
  greeter: "greeter.v1.GreeterService",
  gateway: "gateway.v1.GatewayService",
};

export type Protocol = "connect" | "grpc" | "grpcweb";
export const PROTOCOLS: Protocol[] = ["connect", "grpc", "grpcweb"];

export interface RpcClient {
  /** e.g. "buf-curl/grpc" or "connect-node/grpcweb". */
  readonly name: string;
  /** Whether the client calls methods marked NO_SIDE_EFFECTS with GET. */
  readonly usesGet?: boolean;
  /** Whether the client accepts gzip answers. */
  readonly acceptsGzip?: boolean;
  /** The calls it made, newest last, where the client lets the suite see them. */
  readonly exchanges?: Exchange[];
  call(service: Service, method: string, request: Json, token?: string): Promise<Outcome>;
}

/** The answer of a call that had to succeed. */
export function value(outcome: Outcome, what: string): Json {
  if (!outcome.ok) throw new Error(`${what} failed: ${outcome.code}: ${outcome.message}`);
  return outcome.value;
}

/** The error of a call that had to fail. */
export function errorOf(outcome: Outcome, what: string): { code: string; message: string; details: Detail[] } {
  if (outcome.ok) throw new Error(`${what} succeeded but should have failed: ${JSON.stringify(outcome.value)}`);
  return outcome;
}

/**
 * The field a `google.rpc.BadRequest` detail names first: from Connect's
 * JSON `debug` when sent, else read from the message's bytes
 * (`field_violations` = 1, and in each `field` = 1).
 */
export function badRequestField(details: Detail[]): string | undefined {
  const detail = details.find((d) => d.type === "google.rpc.BadRequest");
  if (!detail) return undefined;
  const debugged = detail.debug?.fieldViolations?.[0]?.field;
  if (typeof debugged === "string") return debugged;
  const first = lengthDelimited(detail.value, 1);
  return first && new TextDecoder().decode(lengthDelimited(first, 1));
}

/** The first length-delimited field `number` of a protobuf message (enough for the two levels above). */
function lengthDelimited(bytes: Uint8Array, number: number): Uint8Array | undefined {
  let i = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[i++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    if ((tag & 7) !== 2) return undefined;
    const length = varint();
    if (tag >>> 3 === number) return bytes.subarray(i, i + length);
    i += length;
  }
  return undefined;
}
