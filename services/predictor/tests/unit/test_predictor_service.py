import datetime as dt
import math
from collections.abc import Callable, Mapping

import pytest

from statmuse_predictor.service import predictions_for
from statmuse_shared.contract.messages import ModelPublished, PredictionMade
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import DiscretizedNormal
from statmuse_shared.models.output import ModelInputError, ModelOutput
from statmuse_shared.models.serving import ModelBook, Served

Serve = Callable[..., ModelPublished]
AS_OF = dt.date(2023, 11, 18)
# LeBron after his first twelve 2023-24 games (points: last ten mean 26.4, season 25.5)
FEATURES: dict[str, float | None] = {
    "points_sma_10": 26.4,
    "points_n_10": 10.0,
    "points_season_avg": 25.5,
    "threes_sma_10": 2.4,
    "threes_n_10": 10.0,
    "threes_season_avg": 2.25,
}


def run(book: ModelBook, stats: tuple[Stat, ...] = tuple(Stat)) -> list[PredictionMade]:
    routed = predictions_for(
        book,
        player_id=2544,
        player_name="LeBron James",
        as_of=AS_OF,
        features=FEATURES,
        stats=stats,
    )
    assert {r.arm for r in routed} <= {"production"}  # A/B is off in these books
    return [r.prediction for r in routed]


def test_only_stats_with_a_model_are_predicted(book: ModelBook, serve: Serve) -> None:
    serve(Stat.POINTS)
    [made] = run(book)
    assert made.stat == Stat.POINTS
    assert made.predicted_value == 26.4
    assert made.distribution.family == "normal"
    assert made.distribution.sd == 6.0
    assert made.distribution.quantiles["q50"] == 26.0
    assert (made.model_name, made.model_version) == ("points-baseline", "v1")
    assert (made.player_id, made.player_name, made.as_of) == (2544, "LeBron James", AS_OF)


def test_no_models_no_predictions(book: ModelBook) -> None:
    assert run(book) == []


def test_lines_probabilities_sum_to_one(book: ModelBook, serve: Serve) -> None:
    serve(Stat.POINTS)
    serve(Stat.THREES, family="poisson")
    made = {p.stat: p for p in run(book)}
    assert set(made) == {Stat.POINTS, Stat.THREES}
    assert [line.line for line in made[Stat.POINTS].lines] == [25.5, 26.5, 27.5]
    assert [line.line for line in made[Stat.THREES].lines] == [1.5, 2.5, 3.5]
    for prediction in made.values():
        for line in prediction.lines:
            total = line.over_probability + line.under_probability + line.push_probability
            assert total == pytest.approx(1.0, abs=1e-12)
            assert line.push_probability == 0.0  # half-point lines
    # P(threes under 2.5) = P(X <= 2) for Poisson(2.4)
    under = math.exp(-2.4) * (1 + 2.4 + 2.4**2 / 2)
    assert made[Stat.THREES].lines[1].under_probability == pytest.approx(under, abs=1e-12)


def test_stats_argument_restricts_the_work(book: ModelBook, serve: Serve) -> None:
    serve(Stat.POINTS)
    serve(Stat.THREES, family="poisson")
    assert [p.stat for p in run(book, stats=(Stat.THREES,))] == [Stat.THREES]


def test_player_model_is_preferred(book: ModelBook, serve: Serve) -> None:
    serve(Stat.POINTS, version="pooled")
    serve(Stat.POINTS, version="lebron", player_id=2544, residual_sd=4.0)
    [made] = run(book)
    assert made.model_version == "lebron"
    assert made.distribution.sd == 4.0


def test_event_ids_are_deterministic(book: ModelBook, serve: Serve) -> None:
    serve(Stat.POINTS)
    first, second = run(book)[0], run(book)[0]
    assert first.event_id == second.event_id
    other_day = predictions_for(
        book,
        player_id=2544,
        player_name="LeBron James",
        as_of=AS_OF + dt.timedelta(days=1),
        features=FEATURES,
    )[0].prediction
    assert other_day.event_id != first.event_id


def test_a_model_that_cannot_use_the_vector_is_skipped(book: ModelBook, serve: Serve) -> None:
    serve(Stat.POINTS)

    class Refuses:
        stat = Stat.REBOUNDS
        model_type = "fake"

        def predict(
            self, features: Mapping[str, float | None], player_id: int | None = None
        ) -> ModelOutput:
            raise ModelInputError("too little history")

    class Works:
        stat = Stat.ASSISTS
        model_type = "fake"

        def predict(
            self, features: Mapping[str, float | None], player_id: int | None = None
        ) -> ModelOutput:
            return ModelOutput(DiscretizedNormal(7.2, 2.0), ())

    info = book.production["points"].info
    book.production["rebounds"] = Served(
        info.model_copy(update={"stat": Stat.REBOUNDS, "version": "r1"}), Refuses()
    )
    book.production["assists"] = Served(
        info.model_copy(update={"stat": Stat.ASSISTS, "version": "a1"}), Works()
    )
    made = {p.stat: p for p in run(book)}
    assert set(made) == {Stat.POINTS, Stat.ASSISTS}
    assert made[Stat.ASSISTS].predicted_value == 7.2


def test_a_batch_predicts_what_each_row_alone_would_in_the_same_order(
    book: ModelBook, serve: Serve
) -> None:
    """`predictions_for_many` (one model call per served model) gives exactly the predictions
    of `predictions_for` row by row, row by row and stat by stat; a row without a usable
    history for a stat gets none for it."""
    from statmuse_predictor.ports import Latest
    from statmuse_predictor.service import predictions_for_many

    serve(Stat.POINTS)
    serve(Stat.THREES, family="poisson")

    class Picky:  # a rebounds model that needs the threes history (no predict_many)
        stat = Stat.REBOUNDS
        model_type = "fake"

        def predict(
            self, features: Mapping[str, float | None], player_id: int | None = None
        ) -> ModelOutput:
            if features.get("threes_sma_10") is None:
                raise ModelInputError("too little history")
            return ModelOutput(DiscretizedNormal(9.0, 3.0), ())

    info = book.production["points"].info
    book.production["rebounds"] = Served(
        info.model_copy(update={"stat": Stat.REBOUNDS, "version": "r1"}), Picky()
    )
    no_threes = {k: v for k, v in FEATURES.items() if not k.startswith("threes")}
    rows = [
        Latest(2544, "LeBron James", AS_OF, None, FEATURES),
        Latest(203999, "Nikola Jokic", AS_OF, None, no_threes),
        Latest(201939, "Stephen Curry", AS_OF + dt.timedelta(days=1), None, FEATURES),
    ]
    alone = [
        r
        for row in rows
        for r in predictions_for(
            book,
            player_id=row.player_id,
            player_name=row.player_name,
            as_of=row.as_of,
            features=row.features,
        )
    ]
    batched = predictions_for_many(book, rows)
    assert [(r.prediction.player_id, r.prediction.stat) for r in batched] == [
        (2544, Stat.POINTS),
        (2544, Stat.REBOUNDS),
        (2544, Stat.THREES),
        (203999, Stat.POINTS),
        (203999, Stat.THREES),
        (201939, Stat.POINTS),
        (201939, Stat.REBOUNDS),
        (201939, Stat.THREES),
    ]
    strip = {"occurred_at"}
    assert [r.prediction.model_dump(exclude=strip) for r in batched] == [
        r.prediction.model_dump(exclude=strip) for r in alone
    ]
