import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { fakeServer, json, openStream, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";
import { rate, spoken } from "./DashboardPage";

// The canvas chart needs a real browser (the browser suite draws it); here it is a labelled stand-in.
vi.mock("../dashboard/Chart", () => ({
  Chart: ({ title, names }: { title: string; names: string[] }) => <figure data-testid="chart">{`${title}: ${names.join(", ")}`}</figure>,
}));

let server: FakeServer;
const metric = { method: "/gateway.v1.GatewayService/LocalizedGreeting", requests: "120", errors: "3", p50Ms: 1.5, p95Ms: 4, p99Ms: 9.25 };
const full = { languages: [{ code: "en" }, { code: "fr" }], userCount: "42", metrics: [metric], unavailable: [], metricsWindow: "60s", generatedAt: "2026-01-01T00:00:00Z" };

beforeEach(() => {
  server = fakeServer();
});

async function open(overview: unknown, roles: string[] = []) {
  server.roles = roles;
  server.routes.push((s) => (s.path.endsWith("/WatchOverview") ? openStream([{ overview }]) : undefined));
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp("/dashboard", session);
  await screen.findByRole("heading", { level: 1, name: "Dashboard" });
  return userEvent.setup();
}

describe("figures", () => {
  it("speaks windows and keeps small rates visible", () => {
    expect([spoken(3600), spoken(900), spoken(45)]).toEqual(["1 h", "15 min", "45 s"]);
    expect([rate(0), rate(13 / 3600), rate(2), rate(1234.5)]).toEqual(["0", "0.00361", "2.00", "1235"]);
  });
});

describe("dashboard", () => {
  it("charts and tables the live overview", async () => {
    await open(full);
    expect((await screen.findByTestId("user-count")).textContent).toBe("42");
    expect(screen.getByTestId("language-count").textContent).toBe("2");
    expect((await screen.findAllByTestId("chart")).map((c) => c.textContent)).toEqual([
      "Requests per second (over 1 min): GatewayService/LocalizedGreeting",
      "p99 latency: GatewayService/LocalizedGreeting",
    ]);
    const row = within(screen.getByRole("table", { name: "Per method, over the last 1 min" })).getByRole("row", { name: /LocalizedGreeting/ });
    expect(within(row).getAllByRole("cell").map((c) => c.textContent)).toEqual(["120", "2.00", "3", "1.5", "4.0", "9.3"]);
    screen.getByText(/^Live: a new snapshot/);
    expect(server.to("/gateway.v1.GatewayService/WatchOverview")[0].headers.get("authorization")).toMatch(/^Bearer /);
    expect(screen.queryByRole("heading", { name: "Metrics history (admins)" })).toBeNull();
    expect(server.to("/gateway.v1.GatewayService/Metrics")).toHaveLength(0);
  });

  it("shows what gateway could not get as unavailable, never as zero", async () => {
    await open({ ...full, userCount: undefined, metrics: [], unavailable: ["users", "metrics"] });
    expect((await screen.findByTestId("user-count")).textContent).toBe("unavailable");
    screen.getByText("Request metrics are unavailable right now.");
    expect(screen.getByTestId("unavailable").textContent).toMatch(/users, metrics/);
    expect(screen.queryByTestId("chart")).toBeNull();
  });

  it("says so when there were no requests yet", async () => {
    await open({ ...full, metrics: [] });
    await screen.findByText("No requests through gateway in the last 1 min yet.");
  });

  it("gives admins the Metrics history over the window they choose", async () => {
    server.routes.push((s) =>
      s.path === "/gateway.v1.GatewayService/Metrics" ? json(200, { metrics: [metric], window: JSON.parse(s.body).window }) : undefined,
    );
    const user = await open(full, ["admin"]);
    await screen.findByRole("heading", { name: "Metrics history (admins)" });
    await screen.findByRole("table", { name: "Per method, over the last 15 minutes" });
    await user.selectOptions(screen.getByLabelText("Window"), "the last hour");
    await screen.findByRole("table", { name: "Per method, over the last hour" });
    expect(server.to("/gateway.v1.GatewayService/Metrics").map((s) => JSON.parse(s.body).window)).toEqual(["900s", "3600s"]);
  });
});
