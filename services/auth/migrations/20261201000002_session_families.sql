-- One row per session family (a login and every refresh token rotated from
-- it). Rotation and revocation lock this row first, so they serialise per
-- family: a logout or a detected reuse sees every token a concurrent
-- refresh inserted, and no token minted concurrently survives it.
CREATE TABLE session_families (
    id         UUID        PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);

CREATE INDEX session_families_user ON session_families (user_id);

INSERT INTO session_families (id, user_id, created_at, revoked_at)
SELECT family_id, min(user_id::text)::uuid, min(created_at),
       CASE WHEN bool_and(revoked_at IS NOT NULL) THEN max(revoked_at) END
FROM sessions GROUP BY family_id;

ALTER TABLE sessions
    ADD CONSTRAINT sessions_family_fk FOREIGN KEY (family_id) REFERENCES session_families (id) ON DELETE CASCADE;
