"""The A/B report: paired predictions settled on the same props (pushes and voids out, the
newest test only), read by the sequential test and published on nba.models.ab.v1."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

from statmuse_shared.contract.messages import (
    AbTestReported,
    ArmQuote,
    DistributionSummary,
    LineProbability,
    PredictionMade,
)
from statmuse_shared.contract.stats import Stat
from statmuse_trainer.monitoring.ab import ab_reports, newest_test, report_of
from statmuse_trainer.monitoring.performance import (
    LineQuote,
    OtherArm,
    PlayedGame,
    StoredPrediction,
    settle_pairs,
)

from .fakes import RecordingPublisher, game_vector, runtime

START = dt.date(2024, 1, 1)
NOW = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)


def quote(line: float, over: float, push: float = 0.0) -> LineQuote:
    return LineQuote(line, over * (1 - push), (1 - over) * (1 - push), push)


def stored(
    pid: int,
    day: dt.date,
    *,
    served: float,
    other: float | None,
    arm: str = "production",
    versions: tuple[str, str] = ("v1", "v2"),
    line: float = 20.5,
) -> StoredPrediction:
    mine, theirs = versions if arm == "production" else versions[::-1]
    return StoredPrediction(
        event_id=f"{pid}-{day}-{arm}",
        player_id=pid,
        stat=Stat.POINTS,
        as_of=day,
        predicted_value=line + 0.4,
        lines=(quote(line - 1, served + 0.1), quote(line, served), quote(line + 1, served - 0.1)),
        model_version=mine,
        occurred_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        arm=None if other is None else arm,
        other=None
        if other is None
        else OtherArm(
            "challenger" if arm == "production" else "production",
            theirs,
            (quote(line - 1, other + 0.1), quote(line, other), quote(line + 1, other - 0.1)),
        ),
    )


def game(pid: int, day: dt.date, points: float, minutes: float = 30) -> PlayedGame:
    return PlayedGame(pid, day, minutes, {"points": points})


def test_pairs_put_each_arm_in_its_place_and_leave_pushes_voids_and_solo_predictions_out():
    predictions = [
        stored(1, START, served=0.6, other=0.4),  # production served
        stored(2, START, served=0.3, other=0.7, arm="challenger"),  # the challenger served
        stored(3, START, served=0.6, other=0.5),  # a push at 20.5? no: 20 points, under
        stored(4, START, served=0.6, other=0.5),  # did not play: void
        stored(5, START, served=0.6, other=None),  # no test running: not a pair
    ]
    games = [game(1, START, 25), game(2, START, 10), game(3, START, 20), game(4, START, 0, 0)]
    games.append(game(5, START, 30))
    pairs = settle_pairs(predictions, games)
    assert [(p.player_id, p.production_over, p.challenger_over, p.went_over) for p in pairs] == [
        (1, pytest.approx(0.6), pytest.approx(0.4), True),
        (2, pytest.approx(0.7), pytest.approx(0.3), False),
        (3, pytest.approx(0.6), pytest.approx(0.5), False),
    ]
    assert {(p.production_version, p.challenger_version) for p in pairs} == {("v1", "v2")}
    # A whole-number line that the player hits exactly is a push: no outcome to score.
    pushed = stored(6, START, served=0.5, other=0.5, line=20.0)
    assert settle_pairs([pushed], [game(6, START, 20)]) == []


def test_only_the_newest_test_is_read():
    old = [stored(i, START, served=0.6, other=0.5) for i in range(1, 4)]
    new = [
        stored(i, START + dt.timedelta(days=3), served=0.6, other=0.5, versions=("v2", "v3"))
        for i in range(1, 3)
    ]
    games = [game(i, d, 25) for i in range(1, 4) for d in (START, START + dt.timedelta(days=3))]
    pairs = settle_pairs(old + new, games)
    assert len(pairs) == 5
    assert {(p.production_version, p.challenger_version) for p in newest_test(pairs)} == {
        ("v2", "v3")
    }
    report = report_of(Stat.POINTS, pairs)
    assert report is not None
    assert (report.production_version, report.challenger_version) == ("v2", "v3")
    assert report.production.n == 2
    assert report.verdict == "keep running"  # far below the minimum sample
    assert report_of(Stat.REBOUNDS, pairs) is None


def simulated(days: int, per_day: int, noise: float, seed: int = 7) -> tuple[list, list]:
    """Synthetic props: production says the true P(over), the challenger the truth plus
    noise; outcomes drawn from the truth."""
    rng = np.random.default_rng(seed)
    predictions, games = [], []
    pid = 0
    for d in range(days):
        day = START + dt.timedelta(days=d)
        for _ in range(per_day):
            pid += 1
            truth = float(rng.uniform(0.25, 0.75))
            challenger = float(np.clip(truth + rng.normal(0, noise), 0.02, 0.98))
            arm = "production" if pid % 2 else "challenger"
            served, other = (truth, challenger) if arm == "production" else (challenger, truth)
            predictions.append(stored(pid, day, served=served, other=other, arm=arm))
            games.append(game(pid, day, 25 if rng.uniform() < truth else 15))
    return predictions, games


def test_a_worse_challenger_is_called_worse_on_the_day_the_sequence_excludes_zero():
    predictions, games = simulated(days=30, per_day=150, noise=0.2)
    report = report_of(Stat.POINTS, settle_pairs(predictions, games))
    assert report is not None
    assert report.verdict == "challenger worse"
    assert report.decided_on is not None
    assert report.first_day <= report.decided_on <= report.last_day
    decided = next(look for look in report.looks if look.day == report.decided_on)
    assert decided.low > 0  # the difference (challenger minus production) is above zero
    assert report.challenger.brier > report.production.brier
    # Every look before it had not decided yet.
    assert all(
        look.low <= 0 or look.n < report.min_pairs
        for look in report.looks[:-1]
        if look.day < report.decided_on
    )


async def test_the_daily_job_publishes_each_stats_report():
    rt = runtime()
    published = RecordingPublisher(AbTestReported)
    rt = dataclasses.replace(rt, publish_ab_tests=published)  # type: ignore[arg-type]
    day = START + dt.timedelta(days=2)
    made = []
    for pid in range(1, 4):
        await rt.examples.upsert([game_vector(pid, START, points=25)])
        made.append(
            PredictionMade(
                event_id=f"p{pid}",
                occurred_at=NOW,
                player_id=pid,
                player_name=f"Player {pid}",
                stat=Stat.POINTS,
                as_of=START,
                predicted_value=21.0,
                distribution=DistributionSummary(family="nb", mean=21.0, sd=5.0, quantiles={}),
                lines=[
                    LineProbability(
                        line=20.5,
                        over_probability=0.55,
                        under_probability=0.45,
                        push_probability=0.0,
                    )
                ],
                model_name="points",
                model_version="v1",
                arm="production",
                other_arm=ArmQuote(
                    arm="challenger",
                    model_version="v2",
                    predicted_value=20.0,
                    lines=[
                        LineProbability(
                            line=20.5,
                            over_probability=0.45,
                            under_probability=0.55,
                            push_probability=0.0,
                        )
                    ],
                ),
            )
        )
    await rt.monitor.store_predictions(made)
    reports = await ab_reports(rt, day)
    assert [r.stat for r in reports] == [Stat.POINTS]
    [sent] = published.messages
    assert sent.production.n == 3
    assert sent.production.brier == pytest.approx(0.45**2)
    assert sent.challenger.brier == pytest.approx(0.55**2)
    # A dry run publishes nothing.
    await ab_reports(rt, day, publish=False)
    assert len(published.messages) == 1


def test_the_prediction_judged_is_the_latest_made_paired_or_not():
    """As the monitor judges what a user saw last: a later prediction without the other arm
    (the test ended that morning) leaves the game out of the test, not an earlier one in."""
    early = stored(1, START, served=0.6, other=0.4)
    late = dataclasses.replace(
        stored(1, START, served=0.6, other=None),
        event_id="late",
        occurred_at=early.occurred_at + dt.timedelta(hours=3),
    )
    assert settle_pairs([early, late], [game(1, START, 25)]) == []
    assert len(settle_pairs([early], [game(1, START, 25)])) == 1


def test_the_test_is_read_again_on_the_books_lines_with_the_books_beside_it():
    from statmuse_trainer.monitoring.performance import BookProp, settle_book_props

    predictions, games = simulated(days=30, per_day=150, noise=0.2)
    rng = np.random.default_rng(3)
    props = []
    for p in predictions:  # a posted line per prop, the books a little off the truth
        assert p.other is not None
        served, other = p.lines[1].over_probability, p.other.lines[1].over_probability
        truth, challenger = (served, other) if p.arm == "production" else (other, served)
        props.append(
            BookProp(
                player_id=p.player_id, stat=Stat.POINTS, game_date=p.as_of, line=20.5,
                production_version="v1", challenger_version="v2", production_over=truth,
                challenger_over=challenger,
                books_over=float(np.clip(truth + rng.normal(0, 0.05), 0.02, 0.98)),
                priced_at=p.occurred_at,
            )
        )  # fmt: skip
    voided = dataclasses.replace(props[0], player_id=10**6)  # no game: left out
    book_pairs = settle_book_props([*props, voided], games)
    assert len(book_pairs) == len(props)
    report = report_of(Stat.POINTS, settle_pairs(predictions, games), book_pairs)
    assert report is not None
    books = report.at_books_lines
    assert books is not None
    assert books.verdict == "challenger worse"
    # Read as of the day it decided (the stopping rule), every settled line up to then.
    assert books.production.books_n == books.production.n
    assert books.first_day < books.decided_on <= books.last_day  # type: ignore[operator]
    # Production says the truth, the books the truth plus noise: production beats the books,
    # the noisier challenger does not.
    assert books.production.brier_vs_books is not None
    assert books.production.brier_vs_books < 0
    assert books.challenger.brier_vs_books is not None
    assert books.challenger.brier_vs_books > 0
    # A priced line of another test (other versions) is not this test's.
    other = [dataclasses.replace(p, challenger_version="v9") for p in book_pairs]
    assert report_of(Stat.POINTS, settle_pairs(predictions, games), other).at_books_lines is None  # type: ignore[union-attr]


def test_a_priced_line_of_an_ab_test_becomes_a_book_prop():
    from statmuse_shared.contract.messages import BookPrice, PropPriced
    from statmuse_trainer.monitoring.performance import book_prop

    def arm(name: str, version: str, over: float) -> ArmQuote:
        return ArmQuote(
            arm=name, model_version=version, predicted_value=21.0,
            lines=[LineProbability(line=20.5, over_probability=over * 0.9,
                                   under_probability=(1 - over) * 0.9, push_probability=0.1)],
        )  # fmt: skip

    prop = PropPriced(
        event_id="p", occurred_at=NOW, game_key="2024-01-01:DEN@LAL", game_date=START,
        player_id=7, player_name="P", stat=Stat.POINTS, line=20.5, as_of=START,
        over_probability=0.5, under_probability=0.4, push_probability=0.1,
        model_over_probability=0.5, books_over_probability=0.52,
        books=[BookPrice(book="dk", over_price=-110, under_price=-110,
                         expected_value_over=0.0)],
        recommendation="PASS", model_name="m", model_version="v1",
        ab_arms=[arm("production", "v1", 0.6), arm("challenger", "v2", 0.45)],
    )  # fmt: skip
    made = book_prop(prop)
    assert made is not None
    assert (made.production_version, made.challenger_version) == ("v1", "v2")
    assert made.production_over == pytest.approx(0.6)  # P(over | not a push)
    assert made.challenger_over == pytest.approx(0.45)
    assert made.books_over == 0.52
    assert book_prop(prop.model_copy(update={"ab_arms": []})) is None  # no test running
    assert book_prop(prop.model_copy(update={"books_over_probability": None})) is None
