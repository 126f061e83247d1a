-- Every admin action on lang's data: who changed which template, when, and
-- what it was before and after.
CREATE TABLE audit_log (
    id     BIGSERIAL   PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor  TEXT        NOT NULL,
    action TEXT        NOT NULL,
    target TEXT        NOT NULL,
    detail JSONB       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
