-- What a vector is for and how old its data is: the game (date, opponent, home) when the
-- vector is for a known game (NULL: the player's next game, not on the schedule yet), and the
-- date of the last game it includes.
ALTER TABLE feature_vectors ADD COLUMN game jsonb;
ALTER TABLE feature_vectors ADD COLUMN data_as_of date;
