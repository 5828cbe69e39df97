-- The player's steals and blocks, for the context of the stats the models now also predict
-- (steals, blocks and steals + blocks). Rows stored before this migration keep NULL there until
-- nba.games.raw.v1 is replayed: a replayed box score that brings a column its stored row lacks
-- is stored again (the upsert in adapters/postgres.py).
ALTER TABLE player_games ADD COLUMN steals integer;
ALTER TABLE player_games ADD COLUMN blocks integer;
