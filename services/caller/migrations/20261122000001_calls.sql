-- Every outbound call the caller service makes or refuses.
CREATE TABLE calls (
    id             BIGSERIAL PRIMARY KEY,
    url            TEXT        NOT NULL,
    method         TEXT        NOT NULL,
    status_code    INTEGER,
    error          TEXT,
    duration_ms    BIGINT      NOT NULL,
    content_length BIGINT      NOT NULL DEFAULT 0,
    content_type   TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ListCalls pages newest first by (created_at, id).
CREATE INDEX calls_created_at_id ON calls (created_at DESC, id DESC);
