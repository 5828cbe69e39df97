"""A/B routing in the predictor: which model predicts a player's next game."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from statmuse_predictor.service import predictions_for, routing_date
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.contract.messages import FeaturesComputed, GameRef, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.serving import ModelBook, ab_bucket

AS_OF = dt.date(2024, 3, 12)
FEATURES: dict[str, float | None] = {
    "points_sma_10": 26.4,
    "points_n_10": 10.0,
    "points_season_avg": 25.5,
}
PLAYERS = range(1, 401)


Event = Callable[..., ModelPublished]


@pytest.fixture
def ab_book(store: Any, event: Event) -> ModelBook:
    """Points: v1 in production, v2 staged, half the pairs to the challenger."""
    book = ModelBook(store=store, ab_share=0.5)
    assert book.apply(event(Stat.POINTS, version="v1", residual_sd=6.0))
    assert book.apply(event(Stat.POINTS, version="v2", alias="staging", residual_sd=5.0))
    return book


def predict(book: ModelBook, pid: int, game_date: dt.date | None = None) -> tuple[str, str, float]:
    [routed] = predictions_for(
        book,
        player_id=pid,
        player_name=f"p{pid}",
        as_of=AS_OF,
        game_date=game_date,
        features=FEATURES,
        stats=(Stat.POINTS,),
    )
    p = routed.prediction
    return p.model_version, routed.arm, p.distribution.sd


def test_half_the_players_get_the_challenger(ab_book: ModelBook) -> None:
    got = {pid: predict(ab_book, pid) for pid in PLAYERS}
    expected = {
        pid: ("v2", "challenger", 5.0) if ab_bucket(pid, AS_OF) < 0.5 else ("v1", "production", 6.0)
        for pid in PLAYERS
    }
    assert got == expected
    challengers = sum(arm == "challenger" for _, arm, _ in got.values())
    assert 0.4 < challengers / len(PLAYERS) < 0.6


def test_the_next_game_date_routes_when_known(ab_book: ModelBook) -> None:
    game_day = AS_OF + dt.timedelta(days=2)
    for pid in PLAYERS:
        version, _, _ = predict(ab_book, pid, game_date=game_day)
        assert version == ("v2" if ab_bucket(pid, game_day) < 0.5 else "v1")
    # ...which is another split than by as_of, so the date really is the one used
    assert any((ab_bucket(p, game_day) < 0.5) != (ab_bucket(p, AS_OF) < 0.5) for p in PLAYERS)


def test_every_prediction_carries_the_other_arm_on_the_same_lines(ab_book: ModelBook) -> None:
    """The A/B test is paired: each prop is priced by both arms, the unserved one beside the
    served one, at the served prediction's lines."""
    for pid in range(1, 41):
        [routed] = predictions_for(
            ab_book,
            player_id=pid,
            player_name="p",
            as_of=AS_OF,
            features=FEATURES,
            stats=(Stat.POINTS,),
        )
        p = routed.prediction
        assert p.arm == routed.arm
        assert p.other_arm is not None
        assert {p.arm, p.other_arm.arm} == {"production", "challenger"}
        assert p.other_arm.model_version == ("v1" if p.arm == "challenger" else "v2")
        assert [q.line for q in p.other_arm.lines] == [q.line for q in p.lines]
        # Same mean (both read points_sma_10), other spread: other probabilities at the lines.
        assert p.other_arm.predicted_value == pytest.approx(p.predicted_value)
        served_over = [q.over_probability for q in p.lines]
        other_over = [q.over_probability for q in p.other_arm.lines]
        assert served_over != pytest.approx(other_over)
        for q in p.other_arm.lines:
            total = q.over_probability + q.under_probability + q.push_probability
            assert total == pytest.approx(1)


def test_without_a_test_running_there_is_no_other_arm(book: ModelBook, event: Event) -> None:
    book.ab_share = 0.5
    assert book.apply(event(Stat.POINTS, version="v1"))
    [routed] = predictions_for(
        book, player_id=7, player_name="p", as_of=AS_OF, features=FEATURES, stats=(Stat.POINTS,)
    )
    assert routed.prediction.arm is None
    assert routed.prediction.other_arm is None


def test_a_replica_routes_alike(ab_book: ModelBook) -> None:
    other = ModelBook(store=ab_book.store, ab_share=0.5)
    for event in (ab_book.production["points"].info, ab_book.staging["points"].info):
        other.apply(event)
    assert [predict(other, pid) for pid in PLAYERS] == [predict(ab_book, pid) for pid in PLAYERS]


def test_ab_off_predicts_with_production_only(book: ModelBook, event: Event) -> None:
    assert book.ab_share == 0.0
    assert book.apply(event(Stat.POINTS, version="v1"))
    # A staged model changes nothing with A/B off.
    assert not book.apply(event(Stat.POINTS, version="v2", alias="staging"))
    assert {predict(book, pid)[:2] for pid in PLAYERS} == {("v1", "production")}


def vector(game: GameRef | None) -> FeaturesComputed:
    return FeaturesComputed(
        event_id="e",
        player_id=2544,
        player_name="LeBron James",
        team="LAL",
        season="2023-24",
        as_of=AS_OF,
        game=game,
        feature_set_version="fs-0.1",
        features=FEATURES,
    )


def test_routing_date_is_the_game_date_when_the_vector_has_one() -> None:
    assert routing_date(vector(None)) is None
    game = GameRef(
        game_date=AS_OF + dt.timedelta(days=1),
        season_type="Regular Season",
        opponent="DEN",
        is_home=True,
    )
    assert routing_date(vector(game)) == AS_OF + dt.timedelta(days=1)


def test_ab_share_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PredictorSettings(database_url="postgresql://x").ab_share == 0.0
    monkeypatch.setenv("PREDICTOR_AB_SHARE", "0.25")
    assert PredictorSettings(database_url="postgresql://x").ab_share == 0.25
    for bad in ("1.5", "-0.1", "nan"):
        monkeypatch.setenv("PREDICTOR_AB_SHARE", bad)
        with pytest.raises(ValidationError, match="ab_share"):
            PredictorSettings(database_url="postgresql://x")
