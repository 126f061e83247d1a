// Streaming RPCs with clients nobody here wrote: connect-es (connect-node
// over Connect, gRPC and gRPC-Web, plain and gzip; connect-web's fetch
// transport) and buf curl. WatchGreetings delivers the user's greeting made
// over another connection and never another user's, WatchOverview sends the
// overview at once, GreetMany takes a client stream, reflection answers
// buf curl over Connect without a schema. Through the edge also: reflection
// is not routed, a client that cancels is noticed, and a reader that never
// reads is dropped while greeter's memory stays put. Delivery latencies are
// printed, not asserted.

import http2 from "node:http2";
import { readFileSync } from "node:fs";
import { type DescService, toJson } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createConnectTransport as createWebTransport } from "@connectrpc/connect-web";
import { GatewayService } from "../../gen/gateway/v1/gateway_pb.js";
import { GreeterService } from "../../gen/greeter/v1/greeter_pb.js";
import { account, type Context } from "../context.js";
import { expect, expectEqual } from "../report.js";
import { curl, json } from "../tools/curl.js";
import { run } from "../tools/exec.js";
import { eventually as waitFor } from "../tools/wait.js";

/** How long a step waits for what should come: a safety net, not a measure. */
const PATIENCE_MS = 15_000;

interface Streamer {
  name: string;
  transport: (baseUrl: string) => Transport;
  /** Whether it can send a client stream (HTTP/2). */
  clientStreams: boolean;
}

const gzip = { sendCompression: compressionGzip, acceptCompression: [compressionGzip] };
const STREAMERS: Streamer[] = [
  { name: "connect-node/connect", transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }), clientStreams: false },
  {
    name: "connect-node/connect-binary+gzip",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, ...gzip }),
    clientStreams: false,
  },
  { name: "connect-node/connect-h2+gzip", transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", ...gzip }), clientStreams: true },
  { name: "connect-node/grpc", transport: (baseUrl) => createGrpcTransport({ baseUrl }), clientStreams: true },
  { name: "connect-node/grpc+gzip", transport: (baseUrl) => createGrpcTransport({ baseUrl, ...gzip }), clientStreams: true },
  { name: "connect-node/grpcweb", transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }), clientStreams: false },
  {
    name: "connect-node/grpcweb-h2+gzip",
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2", ...gzip }),
    clientStreams: true,
  },
  { name: "connect-web/connect", transport: (baseUrl) => createWebTransport({ baseUrl }), clientStreams: false },
];

/** The first item of `it` within `ms`, or a failure saying what was awaited. */
async function within<T>(it: AsyncIterator<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    const next = await Promise.race([it.next(), timeout]);
    if (next.done) throw new Error(`the stream ended before ${what}`);
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

function client<T extends DescService>(desc: T, transport: Transport) {
  return createClient(desc, transport);
}

export async function streaming(ctx: Context): Promise<void> {
  const { report, urls, mode, run: runId } = ctx;
  const bearer = () => ({ authorization: `Bearer ${account(ctx).access}` });
  report.section("streaming (connect-es, buf curl)");

  // A second user, whose greetings the first must never see.
  let other = "";
  await report.check("streaming: a second account signs up", async () => {
    const reply = await curl(`${urls.auth}/auth/signup`, {
      json: { email: `e2e-other-${runId}@example.com`, password: `correct horse battery ${runId}` },
    });
    expectEqual(reply.status, 201, "status");
    other = json(reply).tokens.access_token;
  });
  const greetAs = async (token: string, name: string): Promise<string> => {
    const reply = await curl(`${urls.greeter}/greeter.v1.GreeterService/Greet`, {
      json: { name },
      headers: { authorization: `Bearer ${token}` },
    });
    expectEqual(reply.status, 200, `Greet ${name}`);
    return json(reply).greetingId;
  };

  const latencies: [string, number][] = [];
  for (const s of STREAMERS) {
    const greeter = client(GreeterService, s.transport(urls.greeter));
    const gateway = client(GatewayService, s.transport(urls.gateway));

    await report.check(`${s.name}: WatchGreetings delivers the user's greeting from another connection, never another's`, async () => {
      const abort = new AbortController();
      const events = greeter.watchGreetings({}, { headers: bearer(), signal: abort.signal })[Symbol.asyncIterator]();
      try {
        const first = await within(events, PATIENCE_MS, "first heartbeat");
        expectEqual(first.event.case, "heartbeat", "the first event");
        await greetAs(other, `Other ${s.name}`);
        const name = `Watched ${s.name}`;
        const made = Date.now();
        const id = await greetAs(account(ctx).access, name);
        for (;;) {
          const next = await within(events, PATIENCE_MS, "the greeting");
          if (next.event.case !== "greeting") continue;
          const g = toJson(GreeterService.method.watchGreetings.output, next) as { greeting: { id: string; name: string } };
          expect(g.greeting.name.startsWith("Watched "), `only the user's own greetings: got ${g.greeting.name}`);
          if (g.greeting.id === id) {
            latencies.push([s.name, Date.now() - made]);
            expectEqual(g.greeting.name, name, "name");
            break;
          }
        }
      } finally {
        abort.abort();
      }
    });

    await report.check(`${s.name}: WatchOverview sends the overview at once`, async () => {
      const abort = new AbortController();
      const overviews = gateway.watchOverview({}, { headers: bearer(), signal: abort.signal })[Symbol.asyncIterator]();
      try {
        const first = await within(overviews, PATIENCE_MS, "an overview");
        expect((first.overview?.languages.length ?? 0) >= 10, `languages listed: ${first.overview?.languages.length}`);
        expect(first.overview?.userCount !== undefined, "a signed-in watcher gets the user count");
      } finally {
        abort.abort();
      }
    });

    if (s.clientStreams) {
      await report.check(`${s.name}: GreetMany greets a client stream of names`, async () => {
        async function* names() {
          for (const n of ["Ana", "Bo", "Cy"]) yield { name: `${n} ${s.name}` };
        }
        const reply = await greeter.greetMany(names(), { headers: bearer(), timeoutMs: PATIENCE_MS });
        expectEqual(
          reply.greetings.map((g) => g.greeting),
          ["Ana", "Bo", "Cy"].map((n) => `Hello, ${n} ${s.name}!`),
          "greetings",
        );
      });
    }
  }
  latencies.sort((a, b) => a[1] - b[1]);
  const median = latencies.length ? latencies[Math.floor(latencies.length / 2)][1] : NaN;
  console.log(
    `e2e: WatchGreetings delivery latency (curl sends Greet -> the watch delivers it), ${mode}: median ${median} ms; ` +
      latencies.map(([n, ms]) => `${n} ${ms} ms`).join(", "),
  );

  const buf = (args: string[]) => run(process.env.E2E_BUF ?? "buf", ["curl", ...args], 20_000);
  for (const protocol of ["connect", "grpc", "grpcweb"]) {
    await report.check(`buf-curl/${protocol}: WatchOverview streams an overview until its timeout`, async () => {
      const args = ["--timeout", "3s", "--protocol", protocol, "--schema", `${process.env.E2E_ROOT ?? ".."}/proto`];
      if (protocol === "grpc") args.push("--http2-prior-knowledge");
      args.push("-H", `Authorization: Bearer ${account(ctx).access}`, "-d", "{}");
      const ran = await buf([...args, `${urls.gateway}/gateway.v1.GatewayService/WatchOverview`]);
      expect(ran.stdout.includes('"overview"'), `an overview printed: ${ran.stdout.slice(0, 200)}`);
      expect(ran.stderr.includes("deadline_exceeded"), `then the deadline: ${ran.stderr.slice(0, 200)}`);
    });
  }

  await report.check("buf-curl/connect: reflection over Connect, no --schema, straight to greeter", async () => {
    const direct = process.env.E2E_GREETER_URL || "http://127.0.0.1:8080";
    const listed = await buf(["--protocol", "connect", "--list-methods", direct]);
    expectEqual(listed.code, 0, `exit status (${listed.stderr.trim()})`);
    expect(listed.stdout.includes("greeter.v1.GreeterService/WatchGreetings"), `methods listed: ${listed.stdout}`);
    const many = ["Dee", "Eve"].map((name) => JSON.stringify({ name })).join("\n");
    const ran = await buf([
      "--protocol",
      "connect",
      "-H",
      `Authorization: Bearer ${account(ctx).access}`,
      "-d",
      many,
      `${direct}/greeter.v1.GreeterService/GreetMany`,
    ]);
    expectEqual(ran.code, 0, `exit status (${ran.stderr.trim()})`);
    expectEqual(JSON.parse(ran.stdout).greetings.length, 2, "greetings");
  });

  if (mode !== "edge") return;

  await report.check("edge: reflection is not routed (404)", async () => {
    const reply = await curl(`${urls.edge}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`, {
      method: "POST",
      headers: { "content-type": "application/connect+json" },
    });
    expectEqual(reply.status, 404, "status");
  });

  // greeter's own metrics, straight from its port: the edge does not route them.
  const greeterMetrics = process.env.E2E_GREETER_URL || "http://127.0.0.1:8080";
  const gauge = async (series: string): Promise<number> => {
    const text = (await curl(`${greeterMetrics}/metrics`)).body;
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(" ")[1]) : 0;
  };
  const eventually = (what: string, ok: () => Promise<boolean>) =>
    waitFor(what, PATIENCE_MS, async () => ((await ok()) ? true : undefined));

  await report.check("edge: greeter notices a watcher that cancels", async () => {
    const before = await gauge("greeter_watchers");
    const abort = new AbortController();
    const greeter = client(GreeterService, createConnectTransport({ baseUrl: urls.edge, httpVersion: "1.1" }));
    const events = greeter.watchGreetings({}, { headers: bearer(), signal: abort.signal })[Symbol.asyncIterator]();
    await within(events, PATIENCE_MS, "first heartbeat");
    await eventually("the watch being counted", async () => (await gauge("greeter_watchers")) === before + 1);
    abort.abort();
    await eventually("the cancel being noticed", async () => (await gauge("greeter_watchers")) === before);
  });

  await report.check("edge: a reader that never reads is dropped, greeter's memory stays put", async () => {
    const rss = () => {
      const pid = process.env.E2E_GREETER_PID;
      if (!pid) return NaN;
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    };
    const rssBefore = rss();
    const dropped = await gauge('greeter_watchers_dropped_total{reason="slow_reader"}');
    // HTTP/2 to the edge with a 1 KiB window, then never a byte read.
    const session = http2.connect(urls.edge, { settings: { initialWindowSize: 1024 } });
    const stream = session.request({
      ":method": "POST",
      ":path": "/greeter.v1.GreeterService/WatchGreetings",
      "content-type": "application/connect+json",
      ...bearer(),
    });
    stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from("{}")]));
    await new Promise<void>((resolve) => stream.once("response", () => resolve()));
    stream.pause();
    try {
      // Greetings of about 2 KiB, a hundred a call, until the watch is dropped.
      const url = `http://127.0.0.1:9/${"a".repeat(2000)}`;
      const greeter = client(GreeterService, createGrpcTransport({ baseUrl: urls.greeter }));
      let batches = 0;
      while ((await gauge('greeter_watchers_dropped_total{reason="slow_reader"}')) === dropped) {
        expect(batches < 60, "the stalled watch was never dropped");
        async function* names() {
          for (let i = 0; i < 100; i++) yield { name: `Flood ${i}`, url };
        }
        await greeter.greetMany(names(), { headers: bearer(), timeoutMs: 30_000 });
        batches += 1;
      }
      const rssAfter = rss();
      console.log(
        `e2e: a stalled watch through the edge was dropped after ${batches * 100} greetings of ~2 KiB; ` +
          `greeter RSS ${rssBefore.toFixed(1)} MiB before, ${rssAfter.toFixed(1)} MiB after`,
      );
    } finally {
      stream.close();
      session.close();
    }
  });
}
