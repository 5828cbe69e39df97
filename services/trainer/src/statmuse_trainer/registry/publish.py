"""Adding a model to the registry: the artifact goes to the store (with its checksum), the
version into the registry under `production` or `staging` (a promoted version archives the
old production), and `ModelPublished` out on the models topic. Bundles come from a training
run (`bundle_of`) or from disk (`read_bundle`, e.g. the ones shipped in models/)."""

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.count import CountModel, CountModelHeader
from statmuse_shared.platform.broker import publish_many
from statmuse_trainer.registry.moves import event_of
from statmuse_trainer.runtime import TrainerRuntime

if TYPE_CHECKING:
    from statmuse_trainer.training.fitting import FittedStat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bundle:
    """A count-model bundle with what the registry keeps beside it (its metadata, and the
    report files of the run that made it, logged with its MLflow run)."""

    header: CountModelHeader
    data: bytes
    metadata: dict[str, Any]
    reports: tuple[Path, ...] = ()


def bundle_of(fitted: "FittedStat", dataset_version: str, reports: Sequence[Path] = ()) -> Bundle:
    return Bundle(fitted.header, fitted.bundle, fitted.metadata(dataset_version), tuple(reports))


def read_bundle(path: Path) -> Bundle:
    """A bundle file and its sidecar metadata (`<stat>.json`, if there is one). Raises
    OSError or ModelInputError for a file that is not a bundle."""
    data = path.read_bytes()
    header = CountModel.from_bytes(data).header
    sidecar = path.with_suffix(".json")
    metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return Bundle(header, data, metadata)


async def publish_bundles(
    rt: TrainerRuntime,
    bundles: Sequence[Bundle],
    *,
    promote: bool,
    today: dt.date | None = None,
) -> list[ModelPublished]:
    """Each bundle to the artifact store, the registry and the models topic, in order."""
    events = []
    for b in bundles:
        events.append(
            await register_and_publish(
                rt,
                stat=b.header.stat,
                name=b.header.name,
                model_type="count_model",
                data=b.data,
                suffix="npz",
                feature_set_version=b.header.feature_set_version,
                dataset_version=b.metadata.get("dataset_version"),
                metrics=ModelMetrics.model_validate(b.metadata.get("metrics", {})),
                metadata=b.metadata,
                promote=promote,
                today=today,
                reports=b.reports,
            )
        )
    return events


async def register_and_publish(
    rt: TrainerRuntime,
    *,
    stat: Stat,
    name: str,
    model_type: str,
    data: bytes,
    suffix: str,
    feature_set_version: str,
    dataset_version: str | None,
    metrics: ModelMetrics,
    metadata: dict[str, Any] | None = None,
    promote: bool,
    today: dt.date | None = None,
    reports: Sequence[Path] = (),
) -> ModelPublished:
    """Store the artifact (with its checksum), add the version to the registry under
    `production` or `staging` (with its training run: metadata, bundle, `reports`), and
    announce it on the models topic."""
    day = (today or dt.date.today()).isoformat()
    uri, checksum = rt.store.put(f"{stat.value}/{name}-{checksum_prefix(data)}.{suffix}", data)
    alias = "production" if promote else "staging"
    base = f"v{day}-{name}"
    async with rt.registry.transaction() as tx:
        version = await tx.next_version(base)
        published = ModelPublished(
            event_id=ids.event_id("model", version, alias),
            name=name,
            version=version,
            stat=stat,
            alias=alias,
            model_type=model_type,
            artifact_uri=uri,
            checksum=checksum,
            feature_set_version=feature_set_version,
            dataset_version=dataset_version,
            metrics=metrics,
        )
        current = await tx.alias_version(published.key, "production")
        archived = None
        if promote and current is not None:
            # Before the new version takes the champion alias (its registration's last move).
            await tx.set_alias(published.key, "archived", current)
            archived = await tx.version(current)
        tracking = await tx.register(published, metadata, bundle=data, reports=reports, base=base)
        published = published.model_copy(update={"tracking": tracking})
    events = [published]
    if archived is not None:
        events.append(event_of(archived, "archived"))
    await publish_many(rt.publish_models, [(published.key.encode(), e) for e in events])
    log.info("published %s as %s", version, alias)
    return published


def checksum_prefix(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
