-- The transactional outbox (crates/events): each event is a row written in
-- the same transaction as the change it describes; the relay publishes
-- pending rows in `seq` order, marks them and, later, prunes them.
CREATE TABLE outbox (
    -- Publish order. Writers of one NATS subject take that subject's
    -- advisory lock first, so for a subject `seq` order is commit order.
    seq           bigserial PRIMARY KEY,
    -- The CloudEvents id, sent as Nats-Msg-Id: the stream drops re-sends.
    id            uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    subject       text NOT NULL,
    -- CloudEvents attributes.
    type          text NOT NULL,
    source        text NOT NULL,
    event_subject text,
    data          bytea NOT NULL,
    -- W3C trace context of the writing request, if any.
    traceparent   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- One relay per service publishes at a time: the holder of this lease.
CREATE TABLE outbox_lease (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
