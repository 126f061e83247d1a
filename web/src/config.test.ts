import { describe, expect, it } from "vitest";
import { initialWireFormat } from "./config";
import { backoff } from "./api/watch";

describe("wire format", () => {
  it("is Connect JSON unless ?format=binary", () => {
    expect(initialWireFormat("")).toBe("json");
    expect(initialWireFormat("?format=json")).toBe("json");
    expect(initialWireFormat("?a=1&format=binary")).toBe("binary");
  });
});

describe("watch reconnect backoff", () => {
  it("grows exponentially with jitter, capped at 30 s", () => {
    expect(backoff(0, () => 0)).toBe(250);
    expect(backoff(0, () => 1)).toBe(500);
    expect(backoff(3, () => 1)).toBe(4000);
    expect(backoff(20, () => 1)).toBe(30_000);
  });
});
