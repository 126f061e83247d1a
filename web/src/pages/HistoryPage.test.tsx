import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { envelope, fakeServer, json, openStream as stream, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;

const greeting = (id: number) => ({
  id: String(id),
  name: `N${id}`,
  greeting: `Hello, N${id}!`,
  externalStatus: 200,
  createdAt: "2026-01-01T00:00:00Z",
});


beforeEach(() => {
  server = fakeServer();
});

async function historyPage() {
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp("/history", session);
  await screen.findByRole("heading", { level: 1, name: "History" });
  return userEvent.setup();
}

const heartbeat = { heartbeat: { at: "2026-01-01T00:00:00Z" } };

describe("history", () => {
  it("shows an empty state", async () => {
    server.routes.push((s) => (s.path.endsWith("/WatchGreetings") ? stream([heartbeat]) : undefined));
    await historyPage();
    expect((await screen.findByText(/No greetings yet/)).textContent).toContain("Greet someone");
    expect((await screen.findByText("Live: new greetings appear at the top.")).getAttribute("role")).toBe("status");
  });

  it("pages with ListGreetings page tokens through the Load more button", async () => {
    server.routes.push((s) => {
      if (s.path.endsWith("/WatchGreetings")) return stream([heartbeat]);
      if (!s.path.endsWith("/ListGreetings")) return undefined;
      const { pageToken } = JSON.parse(s.body || "{}");
      return pageToken === "p2"
        ? json(200, { greetings: [greeting(1)] })
        : json(200, { greetings: [greeting(3), greeting(2)], nextPageToken: "p2" });
    });
    const user = await historyPage();
    await screen.findByText("Hello, N3!");
    expect(screen.queryByText("Hello, N1!")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await screen.findByText("Hello, N1!");
    expect(screen.getByText("That is all of them.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    const bodies = server.to("/greeter.v1.GreeterService/ListGreetings").map((s) => JSON.parse(s.body || "{}"));
    expect(bodies[0]).toEqual({ pageSize: 20 });
    expect(bodies.at(-1)).toEqual({ pageSize: 20, pageToken: "p2" });
  });

  it("prepends greetings from WatchGreetings and ignores heartbeats", async () => {
    server.routes.push((s) => {
      if (s.path.endsWith("/ListGreetings")) return json(200, { greetings: [greeting(1)] });
      if (s.path.endsWith("/WatchGreetings")) return stream([heartbeat, { greeting: greeting(2) }, heartbeat]);
      return undefined;
    });
    await historyPage();
    await screen.findByText("Hello, N2!");
    const items = document.querySelectorAll("[data-greeting-id]");
    expect(Array.from(items, (i) => i.getAttribute("data-greeting-id"))).toEqual(["2", "1"]);
    expect(server.to("/greeter.v1.GreeterService/WatchGreetings")[0].headers.get("authorization")).toMatch(/^Bearer /);
  });

  it("reconnects when the stream is dropped with UNAVAILABLE", async () => {
    let watches = 0;
    server.routes.push((s) => {
      if (!s.path.endsWith("/WatchGreetings")) return undefined;
      watches += 1;
      // The first watch ends at once with UNAVAILABLE, as when a replica shuts down.
      return watches === 1
        ? new Response(envelope([], { error: { code: "unavailable", message: "shutting down" } }), {
            status: 200,
            headers: { "content-type": "application/connect+json" },
          })
        : stream([heartbeat, { greeting: greeting(9) }]);
    });
    await historyPage();
    await screen.findByText("Hello, N9!", undefined, { timeout: 3000 });
    expect(watches).toBe(2);
  });
});
