-- Events a consumer of this service has applied (crates/events): a row is
-- written in the same transaction as the event's effect, so a redelivered
-- event finds it and has no second effect.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX inbox_processed_at ON inbox (processed_at);
