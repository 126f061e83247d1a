-- WatchGreetings: every stored greeting is announced on the `greetings`
-- channel (delivered to every listening replica when the insert commits).
-- The notice names the greeting and its owner; listeners read the row.
CREATE FUNCTION greetings_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('greetings', json_build_object('id', NEW.id, 'owner', NEW.owner)::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER greetings_notify AFTER INSERT ON greetings
    FOR EACH ROW EXECUTE FUNCTION greetings_notify();
