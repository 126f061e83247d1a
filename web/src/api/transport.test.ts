import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { beforeEach, describe, expect, it } from "vitest";
import { GreeterService } from "../gen/greeter/v1/greeter_pb";
import { fakeServer, type FakeServer } from "../test/fake-server";
import { createAuthClient } from "./rest";
import { Session } from "./session";
import { createTransport, withHeaders } from "./transport";

const ORIGIN = window.location.origin;
let server: FakeServer;
let session: Session;

beforeEach(async () => {
  server = fakeServer();
  session = new Session(createAuthClient(ORIGIN));
  await session.login("ada@example.com", "correct horse battery");
});

const greeter = (format: "json" | "binary" = "json") => createClient(GreeterService, createTransport(ORIGIN, session, format));

describe("the Connect transport", () => {
  it("sends the access token as a bearer token, Connect JSON by default", async () => {
    const reply = await greeter().greet({ name: "Ada" });
    expect(reply.greeting).toBe("Hello, Ada!");
    const [call] = server.to("/greeter.v1.GreeterService/Greet");
    expect(call.headers.get("authorization")).toBe(`Bearer ${await session.token()}`);
    expect(call.headers.get("content-type")).toBe("application/json");
  });

  it("switches to binary protobuf", async () => {
    await greeter("binary").greet({ name: "Ada" }).catch(() => undefined); // the fake answers JSON only
    expect(server.to("/greeter.v1.GreeterService/Greet")[0].headers.get("content-type")).toBe("application/proto");
  });

  it("5 concurrent calls answered Unauthenticated make exactly one refresh, and each is retried once", async () => {
    const stale = await session.token();
    server.valid.clear();
    const client = greeter();
    const replies = await Promise.all(["A", "B", "C", "D", "E"].map((name) => client.greet({ name })));
    expect(replies.map((r) => r.greeting)).toEqual(["A", "B", "C", "D", "E"].map((n) => `Hello, ${n}!`));
    expect(server.to("/auth/refresh")).toHaveLength(1);
    const calls = server.to("/greeter.v1.GreeterService/Greet");
    expect(calls).toHaveLength(10);
    expect(calls.filter((c) => c.headers.get("authorization") === `Bearer ${stale}`)).toHaveLength(5);
  });

  it("a failed refresh ends the session and the call fails Unauthenticated", async () => {
    server.valid.clear();
    server.refreshAnswer = () =>
      new Response(JSON.stringify({ error: { code: "invalid_refresh_token", message: "revoked" } }), { status: 401 });
    const error = await greeter().greet({ name: "Ada" }).catch((e) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    expect(session.getState().status).toBe("signedOut");
    expect(server.to("/greeter.v1.GreeterService/Greet")).toHaveLength(1);
  });

  it("withHeaders adds headers computed at call time, e.g. a fresh idempotency-key", async () => {
    let key = "first-key-0123456789";
    const client = createClient(
      GreeterService,
      withHeaders(createTransport(ORIGIN, session, "json"), () => ({ "idempotency-key": key })),
    );
    await client.greet({ name: "Ada" });
    key = "second-key-0123456789";
    await client.greet({ name: "Bo" });
    expect(server.to("/greeter.v1.GreeterService/Greet").map((c) => c.headers.get("idempotency-key"))).toEqual([
      "first-key-0123456789",
      "second-key-0123456789",
    ]);
  });
});
