"""The model registry: versions and their aliases (production, staging, archived), moved by
promote and rollback (`moves`) and added by registering a bundle and announcing it
(`publish`)."""
