-- Feature set 2: training examples are game vectors carrying their own outcome (the label).
ALTER TABLE training_examples ALTER COLUMN last_game DROP NOT NULL;
ALTER TABLE training_examples ADD COLUMN outcome jsonb;
ALTER TABLE training_examples ADD COLUMN game_date date;
CREATE INDEX training_examples_by_version ON training_examples (feature_set_version, season);
