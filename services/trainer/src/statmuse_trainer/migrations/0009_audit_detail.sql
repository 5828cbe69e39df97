-- The audit log says what a pin was (canary and its share, or shadow) and that an unpin ended
-- it: the alias alone (staging, archived) does not.
ALTER TABLE alias_history ADD COLUMN detail text;
