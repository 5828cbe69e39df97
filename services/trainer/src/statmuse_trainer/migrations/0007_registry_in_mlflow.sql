-- The model registry moved to MLflow (adapters/mlflow_registry.py): its versions and aliases
-- (champion, challenger) are the one record of what serves. Kept here: the commands carried
-- out (processed_commands) and the audit log of moves (alias_history), now with who asked.
-- A deployment upgrading from the PostgreSQL registry re-imports its production bundles
-- first (docs/runbooks/retraining.md, "Upgrading to the MLflow registry").
ALTER TABLE alias_history DROP CONSTRAINT IF EXISTS alias_history_version_fkey;
ALTER TABLE alias_history ADD COLUMN requested_by text;
COMMENT ON TABLE alias_history IS
    'Audit log of alias moves (what, when, who asked); MLflow holds the aliases themselves';
DROP TABLE aliases;
DROP TABLE model_versions;
