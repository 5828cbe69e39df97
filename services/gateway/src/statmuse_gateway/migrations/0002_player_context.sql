-- The gateway's own box-score read model, for player context (recent games, averages,
-- advanced metrics, opponent strength) computed with the shared feature definitions.
CREATE TABLE player_games (
    player_id   integer NOT NULL,
    game_key    text    NOT NULL,
    game_date   date    NOT NULL,
    season      text    NOT NULL,
    season_type text    NOT NULL,
    team        text    NOT NULL,
    opponent    text    NOT NULL,
    is_home     boolean NOT NULL,
    minutes     double precision NOT NULL,
    points      integer NOT NULL,
    rebounds    integer NOT NULL,
    assists     integer NOT NULL,
    threes      integer,
    fga         integer,
    fta         integer,
    tov         integer,
    event_id    text    NOT NULL,
    PRIMARY KEY (player_id, game_key)
);
CREATE INDEX player_games_by_date ON player_games (player_id, game_date);

CREATE TABLE team_games (
    game_key       text NOT NULL,
    team           text NOT NULL,
    game_date      date NOT NULL,
    season         text NOT NULL,
    points         integer,
    points_allowed integer,
    possessions    double precision,
    minutes        double precision,
    event_id       text NOT NULL,
    PRIMARY KEY (game_key, team)
);
