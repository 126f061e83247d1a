-- Account deletions (src/deletion.rs): a saga across the services that hold
-- a user's data. A row outlives the account it deletes (no foreign key), so
-- that the outcome can still be read; completed ones are pruned.
CREATE TABLE deletions (
    user_id         uuid        PRIMARY KEY,
    -- in_progress until every participant has answered; then completed
    -- (the account is gone) or failed (an admin may retry).
    state           text        NOT NULL CHECK (state IN ('in_progress', 'completed', 'failed')),
    -- 'self', or the admin's id.
    requested_by    text        NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    -- Requests sent so far; the next goes to the silent at next_attempt_at.
    attempts        int         NOT NULL DEFAULT 1,
    next_attempt_at timestamptz NOT NULL,
    finished_at     timestamptz
);
CREATE INDEX deletions_due ON deletions (next_attempt_at) WHERE state = 'in_progress';

-- Each participant's part: pending until it answers.
CREATE TABLE deletion_steps (
    user_id     uuid        NOT NULL REFERENCES deletions (user_id) ON DELETE CASCADE,
    participant text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('pending', 'deleted', 'failed')),
    -- Records it removed (deleted), or why it failed.
    removed     bigint,
    reason      text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, participant)
);
