-- Accounts. Emails are stored normalised (trimmed, lowercased), so the
-- unique constraint is case-insensitive.
CREATE TABLE users (
    id            UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per refresh token. A login starts a family; each refresh marks
-- its token rotated and adds the next one to the family. Only a SHA-256
-- hash of the token is kept.
CREATE TABLE sessions (
    id         UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id  UUID        NOT NULL,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BYTEA       NOT NULL UNIQUE,
    user_agent TEXT,
    address    INET,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE INDEX sessions_family ON sessions (family_id);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed logins per throttling key (a hash of the account or the client
-- address), counted in fixed windows.
CREATE TABLE login_failures (
    key          BYTEA       PRIMARY KEY,
    failures     INTEGER     NOT NULL,
    window_start TIMESTAMPTZ NOT NULL
);

CREATE INDEX login_failures_window ON login_failures (window_start);
