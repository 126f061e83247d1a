import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { fakeServer, json, type FakeServer } from "../test/fake-server";
import { newSession, renderApp } from "../test/render";

let server: FakeServer;

beforeEach(() => {
  server = fakeServer();
});

async function greetPage() {
  const session = newSession();
  await session.login("ada@example.com", "correct horse battery");
  renderApp("/greet", session);
  await screen.findByRole("heading", { level: 1, name: "Greet" });
  return userEvent.setup();
}

const greets = () => server.to("/greeter.v1.GreeterService/Greet");

describe("greet", () => {
  it("greets with a fresh idempotency-key per submission and shows the external status", async () => {
    const user = await greetPage();
    await user.type(screen.getByLabelText("Name"), "Ada");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    expect((await screen.findByTestId("greeting")).textContent).toBe("Hello, Ada!");
    expect(screen.getByTestId("external-status").textContent).toBe("200");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    await vi.waitFor(() => expect(greets()).toHaveLength(2));
    const [a, b] = greets().map((g) => g.headers.get("idempotency-key"));
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
    expect(JSON.parse(greets()[0].body)).toEqual({ name: "Ada" });
  });

  it("sends the URL and shows the external error", async () => {
    server.routes.push((s) =>
      s.path === "/greeter.v1.GreeterService/Greet"
        ? json(200, { greeting: "Hello, Ada!", externalError: "the destination is not allowed", greetingId: "2" })
        : undefined,
    );
    const user = await greetPage();
    await user.type(screen.getByLabelText("Name"), "Ada");
    await user.type(screen.getByLabelText("URL to check (optional)"), "http://10.0.0.1/");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    expect((await screen.findByTestId("external-error")).textContent).toBe("the destination is not allowed");
    expect(JSON.parse(greets()[0].body)).toEqual({ name: "Ada", url: "http://10.0.0.1/" });
  });

  it("asks for a name before sending", async () => {
    const user = await greetPage();
    await user.click(screen.getByRole("button", { name: "Greet" }));
    expect(screen.getByText("Enter a name to greet.")).toBeTruthy();
    expect(greets()).toHaveLength(0);
  });

  it("shows the server's message for invalid_argument, without retrying", async () => {
    server.routes.push((s) =>
      s.path === "/greeter.v1.GreeterService/Greet"
        ? json(400, { code: "invalid_argument", message: "name must not contain control characters" })
        : undefined,
    );
    const user = await greetPage();
    await user.type(screen.getByLabelText("Name"), "Ada");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Name must not contain control characters.");
    expect(greets()).toHaveLength(1);
  });

  it("retries an unavailable greeter twice with the same key, then says so", async () => {
    server.routes.push((s) =>
      s.path === "/greeter.v1.GreeterService/Greet" ? json(503, { code: "unavailable", message: "overloaded" }) : undefined,
    );
    const user = await greetPage();
    await user.type(screen.getByLabelText("Name"), "Ada");
    await user.click(screen.getByRole("button", { name: "Greet" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The service is unavailable, try again.");
    const keys = new Set(greets().map((g) => g.headers.get("idempotency-key")));
    expect(greets()).toHaveLength(3);
    expect(keys.size).toBe(1);
  });
});
