-- Greetings with the outcome of the external call made for each.
CREATE TABLE greetings (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT        NOT NULL,
    greeting        TEXT        NOT NULL,
    url             TEXT        NOT NULL,
    external_status INTEGER,
    external_error  TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ListGreetings pages newest first by (created_at, id).
CREATE INDEX greetings_created_at_id ON greetings (created_at DESC, id DESC);
