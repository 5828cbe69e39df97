-- The books' posted prop lines (the latest prices per game, player, stat and book) and the
-- pre-game vectors of the games still to come: what the priced props are made of. A pre-game
-- vector leaves once its game's vector with the outcome arrives (the game is played).
CREATE TABLE posted_lines (
    player_id   integer NOT NULL,
    game_date   date    NOT NULL,
    stat        text    NOT NULL,
    book        text    NOT NULL,
    game_key    text    NOT NULL,
    player_name text    NOT NULL,
    line        double precision NOT NULL,
    over_price  integer NOT NULL,
    under_price integer,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, game_date, stat, book)
);

CREATE TABLE pregame_features (
    player_id   integer NOT NULL,
    game_date   date    NOT NULL,
    player_name text    NOT NULL,
    team        text    NOT NULL,
    opponent    text    NOT NULL,
    is_home     boolean NOT NULL,
    as_of       date    NOT NULL,
    data_as_of  date,
    features    jsonb   NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (player_id, game_date)
);
