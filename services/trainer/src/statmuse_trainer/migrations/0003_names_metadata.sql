-- Player names travel with the examples (the evaluation matches sportsbook lines by name), and
-- model versions keep their metadata (model type details, feature importance, calibration).
ALTER TABLE training_examples ADD COLUMN player_name text;
ALTER TABLE model_versions ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb;
