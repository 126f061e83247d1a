// One shape for every RPC client the suite drives, so each scenario step runs
// unchanged over buf curl and connect-node, on Connect, gRPC and gRPC-Web.
// Messages travel as canonical proto3 JSON (what buf curl prints, and what
// @bufbuild/protobuf's toJson gives), so the assertions are the same for all.

export type Json = any;

export type Outcome = { ok: true; value: Json } | { ok: false; code: string; message: string };

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
  call(service: Service, method: string, request: Json, token?: string): Promise<Outcome>;
}

/** The answer of a call that had to succeed. */
export function value(outcome: Outcome, what: string): Json {
  if (!outcome.ok) throw new Error(`${what} failed: ${outcome.code}: ${outcome.message}`);
  return outcome.value;
}

/** The error code of a call that had to fail. */
export function errorOf(outcome: Outcome, what: string): { code: string; message: string } {
  if (outcome.ok) throw new Error(`${what} succeeded but should have failed: ${JSON.stringify(outcome.value)}`);
  return outcome;
}
