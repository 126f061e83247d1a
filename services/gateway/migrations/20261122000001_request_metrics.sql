-- One row per RPC the gateway served: written in batches by the recorder,
-- summarised by Metrics and Overview, deleted after the retention period.
CREATE TABLE request_metrics (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Full gRPC method, e.g. /gateway.v1.GatewayService/Overview.
    method     TEXT             NOT NULL,
    -- Upstreams the gateway called while serving it, comma-separated; empty for none.
    upstream   TEXT             NOT NULL,
    -- gRPC status name: ok, invalid_argument, unauthenticated, ...
    status     TEXT             NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL CHECK (latency_ms >= 0),
    at         TIMESTAMPTZ      NOT NULL
);

-- Metrics and Overview read a recent window; retention deletes the oldest rows.
CREATE INDEX request_metrics_at ON request_metrics (at);
