-- Vectors as packed little-endian float64 (NaN = missing), in feature_names() order: COPY of
-- a float8[] encodes every element in Python, bytea is one buffer. Vectors are derived data:
-- the old rows are dropped here and `statmuse-features build` recreates them.
DELETE FROM feature_vectors;
ALTER TABLE feature_vectors DROP COLUMN vector;
ALTER TABLE feature_vectors ADD COLUMN vector bytea NOT NULL;
