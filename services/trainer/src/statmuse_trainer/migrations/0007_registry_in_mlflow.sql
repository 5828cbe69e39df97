-- The model registry moved to MLflow (adapters/mlflow_registry.py): its versions and aliases
-- (champion, challenger) are the one record of what serves. Kept here: the commands carried
-- out (processed_commands) and the audit log of moves (alias_history), now with who asked.
-- The old tables are renamed, not dropped: `statmuse-trainer import-legacy-registry` registers
-- the versions they serve in MLflow (docs/runbooks/retraining.md, "Upgrading to the MLflow
-- registry"); nothing else reads them.
ALTER TABLE alias_history DROP CONSTRAINT IF EXISTS alias_history_version_fkey;
ALTER TABLE alias_history ADD COLUMN requested_by text;
COMMENT ON TABLE alias_history IS
    'Audit log of alias moves (what, when, who asked); MLflow holds the aliases themselves';
ALTER TABLE aliases RENAME TO legacy_aliases;
ALTER TABLE model_versions RENAME TO legacy_model_versions;
COMMENT ON TABLE legacy_model_versions IS
    'The registry before MLflow: read by statmuse-trainer import-legacy-registry, nothing else';
