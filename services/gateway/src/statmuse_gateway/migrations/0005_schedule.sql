-- The schedule as the ingestor last published it (nba.schedule.v1): one row per game id.
CREATE TABLE schedule (
    game_id     text PRIMARY KEY,
    game_date   date NOT NULL,
    season_type text NOT NULL,
    home        text NOT NULL,
    away        text NOT NULL,
    status      text NOT NULL,
    event_id    text NOT NULL
);
CREATE INDEX schedule_home ON schedule (home, game_date);
CREATE INDEX schedule_away ON schedule (away, game_date);
