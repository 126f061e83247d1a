-- gateway's read model of users and their activity, fed by auth's
-- user.registered and greeter's greeting.created (src/projection.rs).
-- A greeting may arrive before its user's registration (they come from two
-- streams), so registered_at is null until it does.
CREATE TABLE user_activity (
    user_id         text PRIMARY KEY,
    registered_at   timestamptz,
    greetings       bigint NOT NULL DEFAULT 0,
    last_greeted_at timestamptz
);
