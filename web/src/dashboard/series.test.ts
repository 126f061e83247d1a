import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { OverviewResponseSchema } from "../gen/gateway/v1/gateway_pb";
import { MAX_POINTS, append, busiest, columns, pointOf, shortMethod } from "./series";

const overview = (at: number, metrics: Array<[string, number, number]>, unavailable: string[] = []) =>
  create(OverviewResponseSchema, {
    generatedAt: { seconds: BigInt(at), nanos: 0 },
    metricsWindow: { seconds: 60n, nanos: 0 },
    unavailable,
    metrics: metrics.map(([method, requests, p99Ms]) => ({ method, requests: BigInt(requests), errors: 1n, p99Ms })),
  });

describe("overview series", () => {
  it("turns counts over the window into rates, and a snapshot without metrics into a gap, not a zero", () => {
    const a = pointOf(overview(100, [["/gateway.v1.GatewayService/Overview", 120, 4.5]]));
    expect(a.at).toBe(100);
    expect(a.methods.get("/gateway.v1.GatewayService/Overview")).toEqual({ rps: 2, eps: 1 / 60, p99: 4.5 });
    const b = pointOf(overview(105, [], ["metrics"]));
    expect(b.available).toBe(false);
    const c = pointOf(overview(110, [["/x.v1.S/Busy", 600, 9]]));
    const methods = busiest([a, b, c]);
    expect(methods).toEqual(["/x.v1.S/Busy"]);
    expect(columns([a, b, c], ["/gateway.v1.GatewayService/Overview"], "rps")).toEqual([[100, 105, 110], [2, null, 0]]);
    expect(columns([a, b, c], ["/gateway.v1.GatewayService/Overview"], "p99")).toEqual([[100, 105, 110], [4.5, null, null]]);
  });

  it("keeps the newest points only, and orders methods by rate", () => {
    let points = [pointOf(overview(0, [["/a.v1.S/A", 1, 1], ["/a.v1.S/B", 5, 1]]))];
    for (let i = 1; i <= MAX_POINTS + 10; i++) points = append(points, pointOf(overview(i, [["/a.v1.S/A", 1, 1]])));
    expect(points).toHaveLength(MAX_POINTS);
    expect(points[0].at).toBe(11);
    expect(busiest([pointOf(overview(0, [["/a.v1.S/A", 1, 1], ["/a.v1.S/B", 5, 1]]))])).toEqual(["/a.v1.S/B", "/a.v1.S/A"]);
    expect(shortMethod("/greeter.v1.GreeterService/Greet")).toBe("GreeterService/Greet");
  });
});
