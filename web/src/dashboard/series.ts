// The overview's history as chart series: one point per snapshot
// WatchOverview sends, at most MAX_POINTS of them (older ones drop off), per
// method the request rate over gateway's metrics window and the latency
// percentiles. A snapshot without metrics (gateway lists "metrics" as
// unavailable) leaves a gap (null), never a zero.

import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { OverviewResponse } from "../gen/gateway/v1/gateway_pb";

export const MAX_POINTS = 60;

export interface Point {
  /** Seconds since the epoch, as uPlot's x axis wants them. */
  at: number;
  /** Per method: requests per second over the window, errors per second, p99 in ms. */
  methods: Map<string, { rps: number; eps: number; p99: number }>;
  available: boolean;
}

export function pointOf(overview: OverviewResponse, now = Date.now()): Point {
  const at = (overview.generatedAt ? timestampMs(overview.generatedAt) : now) / 1000;
  const windowSecs = overview.metricsWindow ? durationMs(overview.metricsWindow) / 1000 : 0;
  const available = !overview.unavailable.includes("metrics") && windowSecs > 0;
  const methods = new Map<string, { rps: number; eps: number; p99: number }>();
  if (available) {
    for (const m of overview.metrics) {
      methods.set(m.method, {
        rps: Number(m.requests) / windowSecs,
        eps: Number(m.errors) / windowSecs,
        p99: m.p99Ms,
      });
    }
  }
  return { at, methods, available };
}

/** Appends `point`, keeping the newest MAX_POINTS. */
export function append(points: readonly Point[], point: Point): Point[] {
  const next = [...points, point];
  return next.length > MAX_POINTS ? next.slice(next.length - MAX_POINTS) : next;
}

/** The `top` busiest methods of the newest point with metrics, busiest first. */
export function busiest(points: readonly Point[], top = 5): string[] {
  const latest = [...points].reverse().find((p) => p.available);
  if (!latest) return [];
  return [...latest.methods.entries()]
    .sort((a, b) => b[1].rps - a[1].rps || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([method]) => method);
}

/**
 * uPlot's columnar data: x, then one column per method of `field`. A method
 * missing from a point with metrics had no requests in the window (0); a
 * point without metrics is a gap (null).
 */
export function columns(points: readonly Point[], methods: string[], field: "rps" | "eps" | "p99"): (number | null)[][] {
  return [
    points.map((p) => p.at),
    ...methods.map((method) =>
      points.map((p) => (p.available ? (p.methods.get(method)?.[field] ?? (field === "p99" ? null : 0)) : null)),
    ),
  ];
}

/** `/greeter.v1.GreeterService/Greet` → `GreeterService/Greet`, for legends. */
export function shortMethod(method: string): string {
  const parts = method.split("/").filter(Boolean);
  const service = parts[0]?.split(".").pop() ?? "";
  return parts.length > 1 ? `${service}/${parts[1]}` : method;
}
