// A local HTTP server for greeter to check (through caller): it answers 200
// and remembers which paths it was asked for, so the suite can tell that the
// call really left the platform.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class Target {
  private readonly hits = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly base: string,
  ) {}

  static async start(): Promise<Target> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const target = new Target(server, `http://127.0.0.1:${port}`);
    server.on("request", (req, res) => {
      target.hits.add(req.url ?? "");
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    });
    return target;
  }

  /** A URL nobody else asks for. */
  url(tag: string): string {
    return `${this.base}/e2e/${tag}-${Math.random().toString(36).slice(2, 10)}`;
  }

  wasHit(url: string): boolean {
    return this.hits.has(new URL(url).pathname);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
