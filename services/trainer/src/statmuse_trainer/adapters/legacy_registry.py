"""The PostgreSQL registry before MLflow (`registry.legacy_model_versions`, `legacy_aliases`,
renamed by migration 0007), read once by `import-legacy-registry`."""

import json
from dataclasses import dataclass
from typing import Any

from statmuse_shared.contract.messages import ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.db import Database


@dataclass(frozen=True)
class LegacyVersion:
    """A version the old registry served under `alias` (production or staging)."""

    published: ModelPublished  # as it would have been announced under its alias
    metadata: dict[str, Any]


async def served_versions(db: Database) -> list[LegacyVersion]:
    """Every version the old registry had under production or staging, production first."""
    async with db.acquire() as conn:
        rows = await conn.fetch(
            """SELECT a.serving_key, a.alias, m.version, m.name, m.stat, m.player_id,
                      m.model_type, m.artifact_uri, m.checksum, m.feature_set_version,
                      m.dataset_version, m.metrics::text AS metrics,
                      m.metadata::text AS metadata
               FROM registry.legacy_aliases a
               JOIN registry.legacy_model_versions m ON m.version = a.version
               WHERE a.alias IN ('production', 'staging')
               ORDER BY a.alias = 'staging', a.serving_key"""
        )
    return [
        LegacyVersion(
            ModelPublished(
                event_id=f"legacy-{r['version']}-{r['alias']}",
                name=r["name"],
                version=r["version"],
                stat=Stat(r["stat"]),
                player_id=r["player_id"],
                alias=r["alias"],
                model_type=r["model_type"],
                artifact_uri=r["artifact_uri"],
                checksum=r["checksum"],
                feature_set_version=r["feature_set_version"],
                dataset_version=r["dataset_version"],
                metrics=ModelMetrics.model_validate(json.loads(r["metrics"])),
            ),
            json.loads(r["metadata"]),
        )
        for r in rows
    ]
