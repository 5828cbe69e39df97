import math
from collections.abc import Callable
from typing import Any

import pytest

from statmuse_shared.artifacts import ArtifactError
from statmuse_shared.messages import ModelPublished
from statmuse_shared.models import RollingMeanArtifact, RollingMeanModel
from statmuse_shared.serving import ModelBook, chart, line_table, nearby_lines, predict
from statmuse_shared.stats import Stat

FEATURES: dict[str, float | None] = {
    "points_sma_10": 25.4,
    "points_n_10": 10.0,
    "points_season_avg": 22.0,
}


@pytest.fixture
def publish(
    store: Any, points_artifact: Callable[..., RollingMeanArtifact]
) -> Callable[..., ModelPublished]:
    """Store an artifact in the fake store and describe it as a ModelPublished event."""

    def make(
        version: str,
        *,
        alias: str = "production",
        player_id: int | None = None,
        checksum: str | None = None,
        **artifact: object,
    ) -> ModelPublished:
        uri, digest = store.put(
            f"points/{version}.json", points_artifact(**artifact).model_dump_json().encode()
        )
        return ModelPublished(
            event_id=f"e-{version}",
            name="points-baseline",
            version=version,
            stat=Stat.POINTS,
            player_id=player_id,
            alias=alias,
            model_type="rolling_mean",
            artifact_uri=uri,
            checksum=checksum or digest,
            feature_set_version="fs-0.1",
        )

    return make


def served_sd(book: ModelBook, stat: Stat = Stat.POINTS, player_id: int | None = None) -> float:
    served = book.for_stat(stat, player_id)
    assert served is not None
    assert isinstance(served.model, RollingMeanModel)
    return served.model.artifact.residual_sd


def test_production_event_loads_and_serves(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    event = publish("v1", residual_sd=6.0)
    assert book.apply(event) is True
    assert book.for_stat(Stat.POINTS).info == event  # type: ignore[union-attr]
    assert served_sd(book) == 6.0
    assert book.for_stat(Stat.REBOUNDS) is None


def test_staging_is_recorded_but_not_served(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    staged = publish("v2", alias="staging", residual_sd=9.0)
    assert book.apply(staged) is False
    assert book.known["v2"] == staged
    assert served_sd(book) == 6.0
    assert store.reads == ["mem://points/v1.json"]


def test_new_production_version_swaps(store: Any, publish: Callable[..., ModelPublished]) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    assert book.apply(publish("v2", residual_sd=9.0)) is True
    assert served_sd(book) == 9.0
    assert book.for_stat(Stat.POINTS).info.version == "v2"  # type: ignore[union-attr]


def test_replayed_production_event_changes_nothing(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    event = publish("v1")
    assert book.apply(event) is True
    assert book.apply(event) is False
    assert store.reads == ["mem://points/v1.json"]  # not loaded twice


def test_checksum_mismatch_keeps_the_old_model(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        book.apply(publish("v2", residual_sd=9.0, checksum="0" * 64))
    assert served_sd(book) == 6.0
    assert book.for_stat(Stat.POINTS).info.version == "v1"  # type: ignore[union-attr]


def test_player_model_preferred_over_stat_model(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    book.apply(publish("pooled", residual_sd=6.0))
    book.apply(publish("lebron", player_id=2544, residual_sd=4.0))
    assert served_sd(book, player_id=2544) == 4.0
    assert served_sd(book, player_id=203999) == 6.0
    assert served_sd(book) == 6.0


def test_predict_prices_a_line(store: Any, publish: Callable[..., ModelPublished]) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    served = book.for_stat(Stat.POINTS)
    assert served is not None
    got = predict(served, FEATURES, line=24.5)
    # P(under 24.5) = P(Y < 24.5) for Y ~ N(25.4, 6)
    under = 0.5 * math.erfc((25.4 - 24.5) / 6.0 / math.sqrt(2))
    assert got.under_probability == pytest.approx(under, abs=1e-12)
    assert got.push_probability == 0.0
    assert got.over_probability == pytest.approx(1 - under, abs=1e-12)
    assert got.predicted_value == 25.4
    assert got.model_version == "v1"
    assert got.fallback is None
    # P(over) = 0.5596 at -110: EV = 0.5596/1.1 - 0.4404 = 0.068, above the 2% edge
    assert got.pricing.recommendation == "OVER"
    assert got.pricing.expected_value == pytest.approx((1 - under) / 1.1 - under, abs=1e-12)
    full_kelly = ((1 - under) / 1.1 - under) * 1.1
    assert got.pricing.kelly_fraction == pytest.approx(full_kelly / 4, abs=1e-12)


@pytest.mark.parametrize(
    ("mean", "lines"),
    [
        (25.4, [24.5, 25.5, 26.5]),
        (25.0, [24.5, 25.5, 26.5]),
        (0.3, [0.5, 0.5, 1.5]),
        (1.2, [0.5, 1.5, 2.5]),
    ],
)
def test_nearby_lines(mean: float, lines: list[float]) -> None:
    assert nearby_lines(mean) == lines


def test_line_table_deduplicates_and_sums_to_one(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", family="poisson"))
    served = book.for_stat(Stat.POINTS)
    assert served is not None
    table = line_table(
        served.model.predict({"points_sma_10": 0.4, "points_n_10": 10.0}).distribution
    )
    assert [row.line for row in table] == [0.5, 1.5]
    assert table[0].under_probability == pytest.approx(math.exp(-0.4), abs=1e-12)
    for row in table:
        total = row.over_probability + row.under_probability + row.push_probability
        assert total == pytest.approx(1.0, abs=1e-12)


def test_chart_covers_the_bulk(store: Any, publish: Callable[..., ModelPublished]) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    served = book.for_stat(Stat.POINTS)
    assert served is not None
    points = chart(predict(served, FEATURES, line=25.5).dist)
    assert points[0][0] == 1  # floor(25.4 - 4 * 6)
    assert points[-1][0] == 50  # ceil(25.4 + 4 * 6)
    assert sum(p for _, p in points) == pytest.approx(1.0, abs=1e-4)
