-- Feature set 4: the player's FGA, FTA and turnovers, for the usage rate and true shooting
-- (docs/FEATURES.md). Rows stored before this migration keep NULL there, which the features
-- read as "no such column", until nba.games.raw.v1 is replayed (reset the features group's
-- offsets): a replayed box score that brings a column its stored row lacks is stored again
-- and its player's vectors are recomputed (the upsert in adapters/postgres.py).
ALTER TABLE player_games ADD COLUMN fga integer;
ALTER TABLE player_games ADD COLUMN fta integer;
ALTER TABLE player_games ADD COLUMN turnovers integer;
