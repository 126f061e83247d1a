-- Roles a user holds; they are copied into the `roles` claim of each access
-- token issued, so a change takes effect at the next token.
ALTER TABLE users ADD COLUMN roles TEXT[] NOT NULL DEFAULT '{}';

-- Every admin action: who did what to whom, and when. `actor` is a user id
-- or `operator` (the auth binary's commands).
CREATE TABLE audit_log (
    id         BIGSERIAL   PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    target     TEXT        NOT NULL,
    detail     JSONB       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);

-- The public halves of the signing keys, so every replica publishes the
-- current key and the previous ones until their last tokens have expired.
-- `retired_at` is set when another key takes over; `publish_until` is when a
-- retired key leaves the JWKS. Private keys are never stored here.
CREATE TABLE signing_keys (
    kid           TEXT        PRIMARY KEY,
    x             TEXT        NOT NULL,
    first_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at    TIMESTAMPTZ,
    publish_until TIMESTAMPTZ
);
