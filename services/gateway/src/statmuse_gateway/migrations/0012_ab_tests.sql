-- Where each stat's A/B test stands, as the trainer last reported it (nba.models.ab.v1):
-- GET /api/models/{stat}/ab and the Models page. One row per stat: a newer test replaces it.
CREATE TABLE ab_tests (
    stat       text PRIMARY KEY,
    payload    jsonb NOT NULL,
    last_day   date NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
