-- Several instances in one consumer group (docs/FEATURES.md, "Several instances").
--
-- The league is read from team_games by every instance: each change to a team box takes the
-- next league revision (a counter behind a row lock, so revisions are handed out in commit
-- order and an instance can read "everything after revision r" without missing a row).
CREATE TABLE league (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    revision bigint  NOT NULL
);
INSERT INTO league (revision) VALUES (1);
ALTER TABLE team_games ADD COLUMN revision bigint NOT NULL DEFAULT 1;
CREATE INDEX team_games_by_revision ON team_games (revision);

-- Per raw-topic partition and season: the latest game day whose vectors were computed, the
-- league revision whose team boxes have been checked against them, and the first day whose
-- vectors are stale (a team box of an earlier day came later). Stored, not in memory, so a
-- partition that moves to another instance takes its pending work along.
CREATE TABLE partitions (
    partition        integer NOT NULL,
    season           text    NOT NULL,
    latest_day       date    NOT NULL,
    checked_revision bigint  NOT NULL,
    stale_since      date,
    stale_version    bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (partition, season)
);

CREATE INDEX player_games_by_season ON player_games (season, game_date);
