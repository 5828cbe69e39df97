"""Upgrading from the PostgreSQL registry: each version the old tables served (production,
staging) registered in MLflow under its own name and alias, its bundle read from the artifact
store (checksum verified) and logged with its run, then announced. Versions MLflow has
already are skipped, so the command can be run again after a failure."""

import logging
from collections.abc import Sequence

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.platform.broker import publish_many
from statmuse_trainer.adapters.legacy_registry import LegacyVersion
from statmuse_trainer.runtime import TrainerRuntime

log = logging.getLogger(__name__)


async def import_legacy(
    rt: TrainerRuntime, versions: Sequence[LegacyVersion], *, requested_by: str
) -> tuple[list[ModelPublished], list[str]]:
    """Registers and announces `versions`; returns the events and the versions skipped."""
    events, skipped = [], []
    for legacy in versions:
        p = legacy.published
        data = rt.store.get(p.artifact_uri, checksum=p.checksum)
        async with rt.registry.transaction() as tx:
            try:
                await tx.version(p.version)
            except LookupError:
                pass
            else:
                skipped.append(p.version)
                continue
            tracking = await tx.register(
                p, legacy.metadata, bundle=data, base=p.version, requested_by=requested_by
            )
        events.append(p.model_copy(update={"tracking": tracking}))
    await publish_many(rt.publish_models, [(e.key.encode(), e) for e in events])
    log.info("imported %d legacy versions (%d there already)", len(events), len(skipped))
    return events, skipped
