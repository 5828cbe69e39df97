-- A raise of a self-set daily limit takes effect 24 hours after it was asked (a timestamp,
-- not the next day: at 23:59 that was a minute). And the day's count of each key's
-- predictions lives here, not in Redis, which may lose or evict it: one row per key and day
-- (US Eastern, the NBA's), counted and checked in one statement.
ALTER TABLE api_keys ADD COLUMN daily_limit_raise_at timestamptz;
ALTER TABLE api_keys DROP COLUMN daily_limit_raise_on;

CREATE TABLE key_usage (
    key_id text NOT NULL REFERENCES api_keys (key_id) ON DELETE CASCADE,
    day    date NOT NULL,
    used   integer NOT NULL CHECK (used >= 0),
    PRIMARY KEY (key_id, day)
);
