-- Training examples keep their values packed (float64 little-endian in the feature set's
-- order, NaN for None: statmuse_shared.features.pack), as nba.features.v2 carries them,
-- instead of as JSONB: PostgreSQL parsed a 300-key JSONB object for every example stored
-- (about 200 us each, 25 with bytea), and every dataset load turned each back into text for
-- Python to parse. Rows stored before keep their JSON in `features` (`vector` NULL) and are
-- read as such; packed rows are read only by code of their own feature set.
ALTER TABLE training_examples ADD COLUMN vector bytea;
ALTER TABLE training_examples ALTER COLUMN features DROP NOT NULL;
ALTER TABLE training_examples ADD CONSTRAINT training_examples_values
    CHECK (vector IS NOT NULL OR features IS NOT NULL);
