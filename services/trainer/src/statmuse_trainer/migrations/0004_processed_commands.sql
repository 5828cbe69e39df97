-- Alias-move commands already carried out, by event id: a command Kafka delivers again (the
-- trainer stopped after the move, before committing its offset) must not move twice.
CREATE TABLE processed_commands (
    event_id     text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
