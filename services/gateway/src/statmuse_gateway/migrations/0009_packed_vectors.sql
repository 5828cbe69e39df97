-- Vectors are stored packed (float64 little-endian in the feature set's order, NaN for None:
-- statmuse_shared.features.pack), as the features service stores them and nba.features.v2
-- carries them, instead of as JSONB: PostgreSQL parsed a 300-key JSONB object for every vector
-- stored (about 200 us each, 25 with bytea), most of the database's work while a season
-- streams. Rows stored before keep their JSON in `features` (`vector` NULL) and are read as
-- such; a packed row is read only with its own feature set's order (the reader checks).
ALTER TABLE feature_vectors ADD COLUMN vector bytea;
ALTER TABLE feature_vectors ALTER COLUMN features DROP NOT NULL;
ALTER TABLE feature_vectors ADD CONSTRAINT feature_vectors_values
    CHECK (vector IS NOT NULL OR features IS NOT NULL);
