-- The priced props of the games to come (nba.props.priced.v1): one row per player, game, stat
-- and line, the PropPriced as published. A line no book posts any more is dropped.
CREATE TABLE slate (
    player_id   integer NOT NULL,
    game_date   date    NOT NULL,
    stat        text    NOT NULL,
    line        double precision NOT NULL,
    team        text,
    edge        double precision,
    payload     jsonb   NOT NULL,
    event_id    text    NOT NULL,
    PRIMARY KEY (player_id, game_date, stat, line)
);
CREATE INDEX slate_day ON slate (game_date);
