// The overview, live: gateway's WatchOverview sends a snapshot every few
// seconds (kept open by api/watch.ts); the page charts request rate and p99
// per method over the last MAX_POINTS snapshots and tables the latest
// figures. What gateway could not get is shown as unavailable, never as
// zero. Admins also get gateway's Metrics over a window they choose.

import { durationMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import { useMemo, useState } from "react";
import { describeError } from "../api/errors";
import { useKeepWatching } from "../api/watch";
import { Page } from "../components/Page";
import { Empty, ErrorMessage, Loading } from "../components/Status";
import { WatchStatus } from "../components/WatchStatus";
import { Chart } from "../dashboard/Chart";
import { MAX_POINTS, append, busiest, columns, pointOf, shortMethod, type Point } from "../dashboard/series";
import { GatewayService, type MethodMetrics, type OverviewResponse } from "../gen/gateway/v1/gateway_pb";
import { useSession, useSessionState } from "../session-context";

const WINDOWS = [
  { label: "the last minute", seconds: 60n },
  { label: "the last 15 minutes", seconds: 900n },
  { label: "the last hour", seconds: 3600n },
  { label: "the last 24 hours", seconds: 86400n },
];

export function DashboardPage() {
  const transport = useTransport();
  const session = useSession();
  const { roles } = useSessionState();
  const [overview, setOverview] = useState<OverviewResponse>();
  const [points, setPoints] = useState<Point[]>([]);
  const watch = useKeepWatching(
    (signal) => createClient(GatewayService, transport).watchOverview({}, { signal }),
    (res) => {
      if (!res.overview) return false;
      const snapshot = res.overview;
      setOverview(snapshot);
      setPoints((previous) => append(previous, pointOf(snapshot)));
      return true;
    },
    session,
    [transport],
  );

  const methods = useMemo(() => busiest(points), [points]);
  const names = useMemo(() => methods.map(shortMethod), [methods]);
  const rate = useMemo(() => columns(points, methods, "rps"), [points, methods]);
  const p99 = useMemo(() => columns(points, methods, "p99"), [points, methods]);
  const metricsUp = overview && !overview.unavailable.includes("metrics");
  const windowText = overview?.metricsWindow ? spoken(durationMs(overview.metricsWindow) / 1000) : "";

  return (
    <Page title="Dashboard">
      <WatchStatus watch={watch} live={`Live: a new snapshot every few seconds; the charts keep the last ${MAX_POINTS}.`} />
      {!overview ? (
        watch.state === "stopped" ? null : <Loading label="Waiting for the first overview…" />
      ) : (
        <>
          <dl className="figures">
            <dt>Users</dt>
            <dd data-testid="user-count">{overview.userCount === undefined ? "unavailable" : overview.userCount.toString()}</dd>
            <dt>Languages</dt>
            <dd data-testid="language-count">
              {overview.unavailable.includes("lang") ? "unavailable" : String(overview.languages.length)}
            </dd>
          </dl>
          {overview.unavailable.length > 0 && (
            <p className="notice" data-testid="unavailable">
              Unavailable right now: {overview.unavailable.join(", ")}. They are shown as unavailable, not as zero.
            </p>
          )}
          {!metricsUp ? (
            <p data-testid="metrics-unavailable">Request metrics are unavailable right now.</p>
          ) : methods.length === 0 ? (
            <Empty>No requests through gateway in the last {windowText} yet.</Empty>
          ) : (
            <div className="charts">
              <Chart title={`Requests per second (over ${windowText})`} unit="req/s" names={names} data={rate} />
              <Chart title="p99 latency" unit="ms" names={names} data={p99} />
            </div>
          )}
          {metricsUp && overview.metrics.length > 0 && (
            <MetricsTable caption={`Per method, over the last ${windowText}`} metrics={overview.metrics} windowSecs={durationMs(overview.metricsWindow!) / 1000} />
          )}
        </>
      )}
      {roles?.includes("admin") && <MetricsHistory />}
    </Page>
  );
}

/** Admins only (gateway's Metrics is admin-only): the requests over a chosen window. */
function MetricsHistory() {
  const [choice, setChoice] = useState(1);
  const chosen = WINDOWS[choice];
  const metrics = useQuery(GatewayService.method.metrics, { window: { seconds: chosen.seconds, nanos: 0 } });
  return (
    <section aria-labelledby="history-heading" className="result">
      <h2 id="history-heading">Metrics history (admins)</h2>
      <div className="field">
        <label htmlFor="metrics-window">Window</label>
        <select id="metrics-window" value={choice} onChange={(e) => setChoice(Number(e.target.value))}>
          {WINDOWS.map((w, i) => (
            <option key={w.label} value={i}>
              {w.label}
            </option>
          ))}
        </select>
      </div>
      {metrics.isPending ? (
        <Loading label="Loading metrics…" />
      ) : metrics.isError ? (
        <ErrorMessage>Could not load metrics: {describeError(metrics.error)}</ErrorMessage>
      ) : metrics.data.metrics.length === 0 ? (
        <Empty>No requests in {chosen.label}.</Empty>
      ) : (
        <MetricsTable caption={`Per method, over ${chosen.label}`} metrics={metrics.data.metrics} windowSecs={Number(chosen.seconds)} />
      )}
    </section>
  );
}

/** 3600 → "1 h", 900 → "15 min", 45 → "45 s". */
export function spoken(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${Math.round(seconds)} s`;
}

/** Three significant digits: a quiet method's rate is not shown as 0.00. */
export function rate(perSecond: number): string {
  return perSecond === 0 ? "0" : perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toPrecision(3);
}

function MetricsTable({ caption, metrics, windowSecs }: { caption: string; metrics: MethodMetrics[]; windowSecs: number }) {
  const ms = (v: number) => v.toFixed(1);
  return (
    <table className="metrics">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Method</th>
          <th scope="col">Requests</th>
          <th scope="col">Per second</th>
          <th scope="col">Errors</th>
          <th scope="col">p50 ms</th>
          <th scope="col">p95 ms</th>
          <th scope="col">p99 ms</th>
        </tr>
      </thead>
      <tbody>
        {metrics.map((m) => (
          <tr key={m.method}>
            <th scope="row">{shortMethod(m.method)}</th>
            <td>{m.requests.toString()}</td>
            <td>{rate(Number(m.requests) / windowSecs)}</td>
            <td>{m.errors.toString()}</td>
            <td>{ms(m.p50Ms)}</td>
            <td>{ms(m.p95Ms)}</td>
            <td>{ms(m.p99Ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
