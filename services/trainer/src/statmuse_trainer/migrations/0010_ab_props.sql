-- A/B tests against the books: while a test runs, the predictor prices every posted line with
-- both arms (PropPriced.ab_arms). The monitor keeps each (player, stat, game, line, test) as
-- last priced before the game, with the books' median de-vigged P(over), and settles it with
-- the game (monitoring/ab.py).
CREATE TABLE monitor_ab_props (
    player_id          integer NOT NULL,
    stat               text    NOT NULL,
    game_date          date    NOT NULL,
    line               double precision NOT NULL,
    production_version text    NOT NULL,
    challenger_version text    NOT NULL,
    production_over    double precision NOT NULL,  -- P(over | not a push)
    challenger_over    double precision NOT NULL,
    books_over         double precision NOT NULL,  -- the books' median de-vigged P(over)
    priced_at          timestamptz NOT NULL,
    PRIMARY KEY (player_id, stat, game_date, line, production_version, challenger_version)
);
CREATE INDEX monitor_ab_props_by_stat ON monitor_ab_props (stat, game_date);
