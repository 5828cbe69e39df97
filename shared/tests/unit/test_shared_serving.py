import datetime as dt
import hashlib
import math
from collections.abc import Callable
from typing import Any

import pytest

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import ArtifactError
from statmuse_shared.models.baseline import RollingMeanArtifact, RollingMeanModel
from statmuse_shared.models.prediction import chart, line_table, nearby_lines, quote
from statmuse_shared.models.serving import ModelBook, Served, ab_bucket, predict

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
    return served_sd_of(book.for_stat(stat, player_id))


def served_sd_of(served: Served | None) -> float:
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


def test_staging_is_recorded_but_not_loaded_with_ab_off(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    staged = publish("v2", alias="staging", residual_sd=9.0)
    assert book.apply(staged) is False
    assert book.known["v2"] == staged
    assert served_sd(book) == 6.0
    assert store.reads == ["mem://points/v1.json"]


def test_a_pinned_version_is_served_as_its_mode_says_even_with_ab_off(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    day = dt.date(2024, 3, 12)
    book.apply(publish("v1", residual_sd=6.0))
    canary = publish("v2", alias="staging", residual_sd=9.0).model_copy(
        update={"mode": "canary", "share": 0.3}
    )
    assert book.apply(canary) is True  # loaded although A/B routing is off
    routed = {pid: book.route(Stat.POINTS, pid, day) for pid in range(1, 301)}
    assert {pid for pid, s in routed.items() if s is not None and s.info.version == "v2"} == {
        pid for pid in range(1, 301) if ab_bucket(pid, day) < 0.3
    }
    # The same version re-pinned as a shadow: nobody is answered with it, each pair has it
    # beside production; the bytes are not read again.
    shadow = canary.model_copy(update={"mode": "shadow", "share": None})
    assert book.apply(shadow) is True
    assert {book.route(Stat.POINTS, pid, day).info.version for pid in range(1, 301)} == {"v1"}  # type: ignore[union-attr]
    beside = book.other(Stat.POINTS, 5, day)
    assert beside is not None
    assert beside.info.version == "v2"
    assert store.reads.count("mem://points/v2.json") == 1
    # Archived (an unpin): gone from staging.
    assert book.apply(publish("v2", alias="archived", residual_sd=9.0)) is True
    assert book.other(Stat.POINTS, 5, day) is None
    # Pinned again, then a retrain staged (A/B off): the new version took the staged alias,
    # so the pin is off here too (an unpin would name the new version, not the pin).
    assert book.apply(shadow) is True
    assert book.apply(publish("v3", alias="staging", residual_sd=7.0)) is True
    assert book.staging == {}


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


def test_quote_prices_an_output_already_computed(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    """`predict` is the model's output, then `quote`: the gateway runs a batch through the model
    first and quotes each output, which must give exactly the single answer."""
    book = ModelBook(store=store)
    book.apply(publish("v1", residual_sd=6.0))
    served = book.for_stat(Stat.POINTS)
    assert served is not None
    output = served.model.predict(FEATURES)
    for line, odds in ((24.5, (-110, -110)), (27.0, (+120, -150))):
        quoted = quote(served.info, output, line=line, odds_over=odds[0], odds_under=odds[1])
        direct = predict(served, FEATURES, line=line, odds_over=odds[0], odds_under=odds[1])
        assert quoted == direct


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
    dist = predict(served, FEATURES, line=25.5).dist
    points = chart(dist)
    # Every value but 1e-5 of each tail (mean 25.4, sd 6: about 4.3 sd each way).
    assert points[0][0] == 0  # the lower tail below 0 is folded onto 0
    assert dist.cdf(points[-1][0]) >= 1 - 1e-5 > dist.cdf(points[-1][0] - 1)
    assert 50 < points[-1][0] < 56
    assert sum(p for _, p in points) == pytest.approx(1.0, abs=2e-5)


# A/B routing

DAY = dt.date(2024, 3, 12)
PAIRS = [(pid, DAY + dt.timedelta(days=d)) for pid in range(1, 501) for d in range(20)]


def routed_versions(book: ModelBook, pairs: list[tuple[int, dt.date]]) -> list[str | None]:
    out = []
    for pid, day in pairs:
        served = book.route(Stat.POINTS, pid, day)
        out.append(None if served is None else served.info.version)
    return out


@pytest.fixture
def ab_book(store: Any, publish: Callable[..., ModelPublished]) -> Callable[..., ModelBook]:
    """A book with v1 in production and v2 staged for points, at a given share."""

    def make(ab_share: float) -> ModelBook:
        book = ModelBook(store=store, ab_share=ab_share)
        book.apply(publish("v1", residual_sd=6.0))
        book.apply(publish("v2", alias="staging", residual_sd=9.0))
        return book

    return make


def test_ab_bucket_is_a_fixed_function_of_the_pair() -> None:
    # Pinned: a change here would re-route every pair (and split replicas during a deploy).
    digest = hashlib.sha256(b"2544:2024-03-12").digest()
    assert ab_bucket(2544, DAY) == int.from_bytes(digest[:8], "big") / 2**64
    assert ab_bucket(2544, DAY) == pytest.approx(0.1428731946026721, abs=1e-15)
    assert ab_bucket(2544, DAY) != ab_bucket(2544, DAY + dt.timedelta(days=1))
    assert ab_bucket(2544, DAY) != ab_bucket(203999, DAY)
    assert all(0.0 <= ab_bucket(pid, day) < 1.0 for pid, day in PAIRS[:1000])


def test_routing_is_deterministic_across_calls_and_books(
    ab_book: Callable[..., ModelBook],
) -> None:
    first = ab_book(0.3)
    routes = routed_versions(first, PAIRS)
    assert routed_versions(first, PAIRS) == routes
    assert routed_versions(ab_book(0.3), PAIRS) == routes  # a fresh book: another replica
    assert set(routes) == {"v1", "v2"}


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_challenger_share_is_close_to_ab_share(
    ab_book: Callable[..., ModelBook], share: float
) -> None:
    routes = routed_versions(ab_book(share), PAIRS)
    assert len(routes) == 10_000
    observed = routes.count("v2") / len(routes)
    # Binomial sd at n = 10,000 is at most 0.005; 0.02 is four of them.
    assert observed == pytest.approx(share, abs=0.02)


def test_a_larger_share_only_adds_pairs_to_the_challenger(
    ab_book: Callable[..., ModelBook],
) -> None:
    small = routed_versions(ab_book(0.2), PAIRS)
    large = routed_versions(ab_book(0.6), PAIRS)
    assert all(b == "v2" for a, b in zip(small, large, strict=True) if a == "v2")


def test_routed_models_and_arms(ab_book: Callable[..., ModelBook]) -> None:
    book = ab_book(0.5)
    arms = {}
    for pid, day in PAIRS[:200]:
        served = book.route(Stat.POINTS, pid, day)
        assert served is not None
        assert isinstance(served.model, RollingMeanModel)
        arms[served.info.version] = (served.arm, served.model.artifact.residual_sd)
    assert arms == {"v1": ("production", 6.0), "v2": ("challenger", 9.0)}
    assert book.for_stat(Stat.POINTS).info.version == "v1"  # type: ignore[union-attr]


def test_ab_share_zero_always_routes_to_production(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store)
    book.apply(publish("v1"))
    assert book.apply(publish("v2", alias="staging")) is False
    assert book.staging == {}
    assert set(routed_versions(book, PAIRS)) == {"v1"}


def test_ab_share_one_always_routes_to_the_challenger(ab_book: Callable[..., ModelBook]) -> None:
    assert set(routed_versions(ab_book(1.0), PAIRS)) == {"v2"}


def test_no_staged_model_routes_to_production(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store, ab_share=0.5)
    assert book.route(Stat.POINTS, 2544, DAY) is None
    book.apply(publish("v1"))
    assert set(routed_versions(book, PAIRS)) == {"v1"}
    assert book.route(Stat.REBOUNDS, 2544, DAY) is None


def test_a_staged_model_alone_is_not_served(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store, ab_share=1.0)
    assert book.apply(publish("v2", alias="staging")) is True
    assert book.route(Stat.POINTS, 2544, DAY) is None  # nothing in production to compare with


def test_staging_events_load_and_replace_the_challenger(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store, ab_share=0.5)
    book.apply(publish("v1"))
    staged = publish("v2", alias="staging")
    assert book.apply(staged) is True
    assert book.apply(staged) is False  # a replay changes nothing
    assert book.apply(publish("v3", alias="staging", residual_sd=7.0)) is True
    assert book.staging["points"].info.version == "v3"
    assert served_sd_of(book.staging["points"]) == 7.0
    assert store.reads == ["mem://points/v1.json", "mem://points/v2.json", "mem://points/v3.json"]


def test_promoting_the_staged_version_clears_staging(
    ab_book: Callable[..., ModelBook], store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ab_book(0.5)
    reads = len(store.reads)
    # What the trainer's promote publishes: the new production, then the old one archived.
    assert book.apply(publish("v2", residual_sd=9.0)) is True
    assert book.apply(publish("v1", alias="archived", residual_sd=6.0)) is False
    assert book.staging == {}
    assert len(store.reads) == reads  # the challenger's model was reused, not read again
    routed = {book.route(Stat.POINTS, pid, day) for pid, day in PAIRS}
    assert {(s.info.version, s.arm) for s in routed if s is not None} == {("v2", "production")}
    assert served_sd(book) == 9.0


def test_archiving_the_staged_version_clears_staging(ab_book: Callable[..., ModelBook]) -> None:
    book = ab_book(0.5)
    assert book.apply(book.known["v2"].model_copy(update={"alias": "archived"})) is True
    assert book.staging == {}
    assert set(routed_versions(book, PAIRS)) == {"v1"}


def test_another_version_moving_leaves_the_challenger(
    ab_book: Callable[..., ModelBook], publish: Callable[..., ModelPublished]
) -> None:
    book = ab_book(0.5)
    assert book.apply(publish("v0", alias="archived")) is False
    assert book.apply(publish("v9")) is True  # e.g. a rollback to another version
    assert book.staging["points"].info.version == "v2"
    assert set(routed_versions(book, PAIRS)) == {"v9", "v2"}


def test_routing_prefers_the_player_key_like_for_stat(
    store: Any, publish: Callable[..., ModelPublished]
) -> None:
    book = ModelBook(store=store, ab_share=1.0)
    book.apply(publish("pooled"))
    book.apply(publish("pooled-next", alias="staging"))
    book.apply(publish("lebron", player_id=2544))
    book.apply(publish("lebron-next", alias="staging", player_id=2544))
    book.apply(publish("curry-next", alias="staging", player_id=201939))
    assert book.route(Stat.POINTS, 2544, DAY).info.version == "lebron-next"  # type: ignore[union-attr]
    # No production model of his own: Curry's key is skipped, as in for_stat.
    assert book.route(Stat.POINTS, 201939, DAY).info.version == "pooled-next"  # type: ignore[union-attr]
    book.apply(book.known["lebron-next"].model_copy(update={"alias": "archived"}))
    assert book.route(Stat.POINTS, 2544, DAY).info.version == "lebron"  # type: ignore[union-attr]


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_ab_share_outside_zero_one_is_refused(store: Any, share: float) -> None:
    with pytest.raises(ValueError, match="ab_share"):
        ModelBook(store=store, ab_share=share)
