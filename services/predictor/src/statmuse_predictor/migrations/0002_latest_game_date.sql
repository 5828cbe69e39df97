-- The next game's date when the vector knows it: A/B routing hashes (player, date), and a
-- re-prediction after a model change must route a player exactly as the first prediction did.
ALTER TABLE latest_features ADD COLUMN game_date date;
