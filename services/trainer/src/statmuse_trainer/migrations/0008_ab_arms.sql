-- A/B tests are paired: while one runs, each prediction names the arm that served it and
-- carries the other arm's probabilities at the same lines (PredictionMade.arm, .other_arm),
-- so the monitor settles both arms on the same props (monitoring/ab.py).
ALTER TABLE monitor_predictions ADD COLUMN arm text;
ALTER TABLE monitor_predictions ADD COLUMN other_arm jsonb;
