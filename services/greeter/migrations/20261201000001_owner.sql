-- Each greeting belongs to the user who made it (auth's user id). Rows from
-- before owners were recorded have none and are listed to admins only.
ALTER TABLE greetings ADD COLUMN owner TEXT;

-- ListGreetings pages one owner's greetings newest first.
CREATE INDEX greetings_owner_created_at_id ON greetings (owner, created_at DESC, id DESC);
