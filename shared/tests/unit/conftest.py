"""Fixtures for the shared library's unit tests: in-memory fakes for our own interfaces."""

import datetime as dt
from collections.abc import Callable

import pytest

from statmuse_shared.contract.messages import PlayerGameIngested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import ArtifactError, sha256
from statmuse_shared.models.baseline import RollingMeanArtifact


class FakeArtifactStore:
    """An ArtifactStore in a dict; counts reads so tests can see when a model was (re)loaded."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.reads: list[str] = []

    def put(self, key: str, data: bytes) -> tuple[str, str]:
        uri = f"mem://{key}"
        self.blobs[uri] = data
        return uri, sha256(data)

    def get(self, uri: str, *, checksum: str) -> bytes:
        self.reads.append(uri)
        data = self.blobs[uri]
        if sha256(data) != checksum:
            raise ArtifactError(f"checksum mismatch for {uri}")
        return data


@pytest.fixture
def store() -> FakeArtifactStore:
    return FakeArtifactStore()


@pytest.fixture
def points_artifact() -> Callable[..., RollingMeanArtifact]:
    def make(**overrides: object) -> RollingMeanArtifact:
        fields: dict[str, object] = {
            "stat": Stat.POINTS,
            "feature": "points_sma_10",
            "fallback_feature": "points_season_avg",
            "window_count_feature": "points_n_10",
            "min_games": 5,
            "family": "normal",
            "residual_sd": 6.0,
            "league_mean": 11.0,
            "feature_set_version": "fs-0.1",
        }
        fields.update(overrides)
        return RollingMeanArtifact.model_validate(fields)

    return make


@pytest.fixture
def lebron_game() -> PlayerGameIngested:
    """LeBron James at DEN on 2023-10-24 (2023-24.csv.gz, row 24)."""
    return PlayerGameIngested(
        event_id="0b9f3c2e-5d0c-5b7e-8a47-2f0a7f8b1d11",
        occurred_at=dt.datetime(2023, 10, 25, 4, 0, tzinfo=dt.UTC),
        source="files",
        season="2023-24",
        season_type="Regular Season",
        game_id="0022300061",
        game_key="2023-10-24:LAL@DEN",
        game_date=dt.date(2023, 10, 24),
        player_id=2544,
        player_name="LeBron James",
        team="LAL",
        opponent="DEN",
        is_home=False,
        minutes=29,
        points=21,
        rebounds=8,
        assists=5,
        steals=1,
        blocks=0,
        turnovers=0,
        fgm=10,
        fga=16,
        fg3m=1,
        fg3a=4,
        ftm=0,
        fta=1,
        oreb=1,
        dreb=7,
        plus_minus=7,
    )
