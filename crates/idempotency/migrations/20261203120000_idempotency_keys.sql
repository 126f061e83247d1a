-- Idempotency-Key records (crates/idempotency), one row per (scope, key)
-- whose write committed. Claimed, executed and completed in one transaction,
-- so a row exists exactly when its write does.
CREATE TABLE idempotency_keys (
    -- SHA-256 of the scope (user, service or client address) and the key:
    -- neither is stored.
    id          bytea PRIMARY KEY CHECK (octet_length(id) = 32),
    -- HMAC-SHA256 of method, path and body, keyed by the key: compares
    -- requests without storing any body.
    fingerprint bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
    -- The outcome a repeat gets: an HTTP status or a gRPC code, and the
    -- answer's bytes (for credential routes only the user id, never a token
    -- or password).
    status      integer NOT NULL,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
-- Pruning by expiry (platform::retention).
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
