-- Each player's latest vector is kept packed (float64 little-endian in the feature set's
-- order, NaN for None: statmuse_shared.features.pack), as nba.features.v2 carries it, instead
-- of as JSONB, which PostgreSQL parsed for every vector kept (about 200 us each, 25 with
-- bytea). Rows kept before keep their JSON in `features` (`vector` NULL) and are read as such;
-- a packed row is read only with its own feature set's order (the reader checks).
ALTER TABLE latest_features ADD COLUMN vector bytea;
ALTER TABLE latest_features ALTER COLUMN features DROP NOT NULL;
ALTER TABLE latest_features ADD CONSTRAINT latest_features_values
    CHECK (vector IS NOT NULL OR features IS NOT NULL);
