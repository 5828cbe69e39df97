-- Feature set 6: the player's steals and blocks (turnovers came with 0005), for the compact
-- features of the stats the models now also predict (docs/FEATURES.md). Rows stored before
-- this migration keep NULL there, which the features read as "no such column", until
-- nba.games.raw.v1 is replayed: a replayed box score that brings a column its stored row lacks
-- is stored again and its player's vectors are recomputed (the upsert in adapters/postgres.py).
ALTER TABLE player_games ADD COLUMN steals integer;
ALTER TABLE player_games ADD COLUMN blocks integer;
