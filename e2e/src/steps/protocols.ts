// What the RPC ports answer requests that no protocol there accepts, and
// Connect's GET and gzip as plain HTTP clients use them, with curl through
// whatever the suite talks to (the edge forwards all of it to the services
// over h2c): 415 with Accept-Post, unimplemented methods, 405 with Allow, a
// wrong protocol version, unsupported codings, oversized bodies and zip
// bombs, and a GET answer a cache may keep.

import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json } from "../tools/curl.js";

const GREET = "/greeter.v1.GreeterService/Greet";
const LIST = "/greeter.v1.GreeterService/ListGreetings";

export async function protocols(ctx: Context): Promise<void> {
  const { report, urls } = ctx;
  const auth = () => ({ authorization: `Bearer ${account(ctx).access}` });
  const greeter = (path: string) => `${urls.greeter}${path}`;
  report.section("protocols (what curl sees of the RPC ports)");

  await report.check("protocols: a text/plain POST is 415 naming the accepted media types", async () => {
    const reply = await curl(greeter(GREET), { method: "POST", headers: { ...auth(), "content-type": "text/plain" } });
    expectEqual(reply.status, 415, "status");
    const accepted = (reply.headers["accept-post"] ?? "").split(", ");
    for (const media of ["application/json", "application/proto", "application/grpc", "application/grpc-web"]) {
      expect(accepted.includes(media), `Accept-Post lists ${media}: ${reply.headers["accept-post"]}`);
    }
  });

  await report.check("protocols: an unknown method is 404 unimplemented, in Connect's JSON", async () => {
    const reply = await curl(greeter("/greeter.v1.GreeterService/Gret"), { json: {}, headers: auth() });
    expectEqual([reply.status, json(reply).code], [404, "unimplemented"], "status, code");
  });

  await report.check("protocols: GET of a method with side effects is 405, Allow: POST", async () => {
    const reply = await curl(greeter(GREET), { headers: auth() });
    expectEqual([reply.status, reply.headers.allow], [405, "POST"], "status, Allow");
  });

  await report.check("protocols: connect-protocol-version 2 is refused: invalid_argument", async () => {
    const reply = await curl(greeter(LIST), { json: {}, headers: { ...auth(), "connect-protocol-version": "2" } });
    expectEqual([reply.status, json(reply).code], [400, "invalid_argument"], "status, code");
  });

  await report.check("protocols: a brotli body is 501 unimplemented, naming gzip", async () => {
    const reply = await curl(greeter(LIST), { json: {}, headers: { ...auth(), "content-encoding": "br" } });
    expectEqual([reply.status, json(reply).code, reply.headers["accept-encoding"]], [501, "unimplemented", "gzip"], "reply");
  });

  await report.check("protocols: a gzip body is read (content-encoding: gzip)", async () => {
    const file = join(tmpdir(), `e2e-${ctx.run}-list.gz`);
    writeFileSync(file, gzipSync(JSON.stringify({ pageSize: 1 })));
    const headers = { ...auth(), "content-type": "application/json", "content-encoding": "gzip" };
    const reply = await curl(greeter(LIST), { dataFile: file, headers });
    rmSync(file);
    expectEqual(reply.status, 200, "status");
    expect(Array.isArray(json(reply).greetings), `a list: ${reply.body.slice(0, 200)}`);
  });

  await report.check("protocols: a zip bomb (64 MiB in 64 KiB of gzip) is resource_exhausted", async () => {
    const file = join(tmpdir(), `e2e-${ctx.run}-bomb.gz`);
    writeFileSync(file, gzipSync(`{"name": "${" ".repeat(64 << 20)}"}`));
    const headers = { ...auth(), "content-type": "application/json", "content-encoding": "gzip" };
    const reply = await curl(greeter(GREET), { dataFile: file, headers });
    rmSync(file);
    expectEqual([reply.status, json(reply).code], [429, "resource_exhausted"], "status, code");
  });

  await report.check("protocols: a 5 MiB body is resource_exhausted", async () => {
    const file = join(tmpdir(), `e2e-${ctx.run}-big.json`);
    writeFileSync(file, `{"name": "${"x".repeat(5 << 20)}"}`);
    const reply = await curl(greeter(GREET), { dataFile: file, headers: { ...auth(), "content-type": "application/json" } });
    rmSync(file);
    expectEqual([reply.status, json(reply).code], [429, "resource_exhausted"], "status, code");
  });

  await report.check("protocols: Connect GET, as the Connect docs show it with curl, varies with Accept-Encoding", async () => {
    const query = { encoding: "json", message: JSON.stringify({ pageSize: 1 }) };
    const reply = await curl(greeter(LIST), { query, headers: auth() });
    expectEqual(reply.status, 200, "status");
    expectEqual(reply.headers.vary?.toLowerCase().includes("accept-encoding"), true, `Vary: ${reply.headers.vary}`);
    expect(Array.isArray(json(reply).greetings), `a list: ${reply.body.slice(0, 200)}`);
  });

  await report.check("protocols: Overview answers a GET without a token (public, cacheable)", async () => {
    const reply = await curl(`${urls.gateway}/gateway.v1.GatewayService/Overview`, {
      query: { connect: "v1", encoding: "json", message: "{}" },
    });
    expectEqual(reply.status, 200, "status");
    expectEqual(json(reply).userCount, undefined, "no user data without a token");
  });
}
