-- Every instance's league (the team ratings a player context reads) follows the team boxes
-- that any instance stored: a consumer group splits nba.games.raw.v1 between the instances,
-- so each one folds in only its own partitions' boxes. Each transaction that stores team
-- boxes first takes the next league version (the row lock makes the writers commit in version
-- order), and tags its rows with it; an instance reads the rows above the version it has.
ALTER TABLE team_games ADD COLUMN version bigint NOT NULL DEFAULT 0;
CREATE INDEX team_games_version ON team_games (version);
CREATE TABLE league_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint  NOT NULL
);
-- The boxes stored before this migration are version 1.
UPDATE team_games SET version = 1;
INSERT INTO league_version VALUES (true, 1);
