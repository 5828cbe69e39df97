"""A ModelBook over an in-memory ArtifactStore (a fake of our own interface)."""

from collections.abc import Callable
from typing import Any

import pytest

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import ArtifactError, sha256
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.serving import ModelBook


class MemoryArtifactStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> tuple[str, str]:
        self.blobs[f"mem://{key}"] = data
        return f"mem://{key}", sha256(data)

    def get(self, uri: str, *, checksum: str) -> bytes:
        data = self.blobs[uri]
        if sha256(data) != checksum:
            raise ArtifactError(f"checksum mismatch for {uri}")
        return data


@pytest.fixture
def store() -> MemoryArtifactStore:
    return MemoryArtifactStore()


@pytest.fixture
def book(store: MemoryArtifactStore) -> ModelBook:
    return ModelBook(store=store)


def model_event(
    store: MemoryArtifactStore,
    stat: Stat,
    *,
    version: str = "v1",
    alias: str = "production",
    family: str = "normal",
    residual_sd: float = 6.0,
    league_mean: float = 10.0,
    player_id: int | None = None,
) -> ModelPublished:
    """Store a rolling-mean artifact and describe it as the trainer would."""
    p = stat.value
    artifact = RollingMeanArtifact(
        stat=stat,
        feature=f"{p}_sma_10",
        fallback_feature=f"{p}_season_avg",
        window_count_feature=f"{p}_n_10",
        min_games=5,
        family=family,
        residual_sd=residual_sd,
        league_mean=league_mean,
        feature_set_version="fs-0.1",
    )
    uri, checksum = store.put(f"{p}/{version}.json", artifact.model_dump_json().encode())
    event = ModelPublished(
        event_id=f"e-{p}-{version}-{alias}",
        name=f"{p}-baseline",
        version=version,
        stat=stat,
        player_id=player_id,
        alias=alias,
        model_type="rolling_mean",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version="fs-0.1",
    )
    return event


@pytest.fixture
def event(store: MemoryArtifactStore) -> Callable[..., ModelPublished]:
    """`model_event` into the test's store: (stat, version=, alias=, ...) -> the event."""

    def make(stat: Stat, **kwargs: Any) -> ModelPublished:
        return model_event(store, stat, **kwargs)

    return make


@pytest.fixture
def serve(book: ModelBook, event: Callable[..., ModelPublished]) -> Callable[..., ModelPublished]:
    """Publish a production rolling-mean model for a stat into `book`."""

    def make(stat: Stat, **kwargs: Any) -> ModelPublished:
        published = event(stat, **kwargs)
        assert book.apply(published)
        return published

    return make
