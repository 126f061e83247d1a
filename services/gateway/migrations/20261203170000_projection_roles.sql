-- The projection follows role changes (auth's user.roles_changed).
ALTER TABLE user_activity ADD COLUMN roles text[] NOT NULL DEFAULT '{}';

-- Users whose entry gateway removed for an account deletion: an event about
-- them that arrives later (another stream's consumer lagging behind) does
-- not bring the entry back. Kept as long as the streams keep events.
CREATE TABLE deleted_users (
    user_id    text        PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
