"""Each stat's A/B test, settled and read: the paired predictions the monitor stored (the
served arm and, beside it, the other arm at the same lines) settled against the games
(`performance.settle_pairs`), the newest test's pairs through the sequential test
(`abtest.compare`), read again on the books' posted lines where both arms priced them (the
books' de-vigged P(over) beside them), and the result as `AbTestReported` on
nba.models.ab.v1 (key: stat), which the gateway serves at GET /api/models/{stat}/ab and draws
on the Models page.

A test is one (production version, challenger version) pair of a stat: a new challenger, or
a promotion, starts a new one, and only the newest (the versions of the prediction made
last) is reported, on its pairs only: an earlier test's props say nothing about this
challenger. A per-player key under test is read with its stat's (the report is per stat).
`report_of` is pure; `ab_reports` reads, computes off the event loop and publishes."""

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import (
    AbBooksReading,
    AbLook,
    AbTestReported,
    ArmScore,
    Interval,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform import broker
from statmuse_trainer.monitoring import abtest
from statmuse_trainer.monitoring.performance import (
    MAX_DAYS_TO_GAME,
    SettledPair,
    settle_book_props,
    settle_pairs,
)
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.scoring import Estimate

log = logging.getLogger(__name__)
# How far back a test's pairs are read: longer than any test should need to run.
LOOKBACK_DAYS = 180


def _arm(scores: abtest.ArmScores) -> ArmScore:
    return ArmScore(
        n=scores.n,
        brier=scores.brier,
        log_loss=scores.log_loss,
        picks=scores.picks,
        hit_rate=scores.hit_rate,
        books_n=scores.books_n,
        brier_vs_books=scores.brier_vs_books,
    )


def _interval(e: Estimate) -> Interval:
    return Interval(estimate=e.value, low=e.low, high=e.high)


def newest_test(pairs: Sequence[SettledPair]) -> list[SettledPair]:
    """The pairs of the newest test: the versions of the pair made last."""
    if not pairs:
        return []
    last = max(pairs, key=lambda p: (p.made_at, p.game_date))
    versions = (last.production_version, last.challenger_version)
    return [p for p in pairs if (p.production_version, p.challenger_version) == versions]


def _compare(pairs: Sequence[SettledPair], *, books: bool = False) -> abtest.ABResult:
    return abtest.compare(
        [p.game_date for p in pairs],
        [p.production_over for p in pairs],
        [p.challenger_over for p in pairs],
        [1.0 if p.went_over else 0.0 for p in pairs],
        [p.books_over for p in pairs] if books else None,
    )


def books_reading(
    versions: tuple[str, str], book_pairs: Sequence[SettledPair]
) -> AbBooksReading | None:
    """The test of `versions` on the books' posted lines; None without any settled."""
    mine = sorted(
        (p for p in book_pairs if (p.production_version, p.challenger_version) == versions),
        key=lambda p: (p.game_date, p.player_id, p.line),
    )
    if not mine:
        return None
    result = _compare(mine, books=True)
    return AbBooksReading(
        verdict=result.verdict,
        decided_on=result.decided_on,
        first_day=mine[0].game_date,
        last_day=mine[-1].game_date,
        production=_arm(result.production),
        challenger=_arm(result.challenger),
        brier_difference=_interval(result.brier_difference),
    )


def report_of(
    stat: Stat, pairs: Sequence[SettledPair], book_pairs: Sequence[SettledPair] = ()
) -> AbTestReported | None:
    """The newest test of `stat` among `pairs` (time order), read as of its last settle day,
    with its reading on the books' lines from `book_pairs`; None without pairs."""
    mine = sorted(newest_test([p for p in pairs if p.stat is stat]), key=lambda p: p.game_date)
    if not mine:
        return None
    result = _compare(mine)
    first, last = mine[0], mine[-1]
    return AbTestReported(
        event_id=ids.event_id(
            "ab",
            stat.value,
            first.production_version,
            first.challenger_version,
            last.game_date,
            len(mine),
        ),
        stat=stat,
        production_version=first.production_version,
        challenger_version=first.challenger_version,
        verdict=result.verdict,
        decided_on=result.decided_on,
        first_day=first.game_date,
        last_day=last.game_date,
        alpha=result.alpha,
        margin=result.margin,
        min_pairs=result.min_pairs,
        production=_arm(result.production),
        challenger=_arm(result.challenger),
        brier_difference=_interval(result.brier_difference),
        log_loss_difference=_interval(result.log_loss_difference),
        looks=[
            AbLook(
                day=look.day,
                n=look.n,
                estimate=look.brier_difference.value,
                low=look.brier_difference.low,
                high=look.brier_difference.high,
            )
            for look in result.looks
        ],
        at_books_lines=books_reading(
            (first.production_version, first.challenger_version),
            [p for p in book_pairs if p.stat is stat],
        ),
    )


async def ab_reports(
    rt: TrainerRuntime,
    day: dt.date,
    *,
    stats: Sequence[Stat] = tuple(Stat),
    publish: bool = True,
) -> list[AbTestReported]:
    """Every stat's newest A/B test as of `day` (stats without paired predictions have
    none), published unless not `publish`."""
    # Predictions and games from the same first day: a prediction's game is found among
    # the games from its own as_of on (as `daily_metrics` reads them).
    first = day - dt.timedelta(days=LOOKBACK_DAYS + MAX_DAYS_TO_GAME)
    games = await rt.examples.played_games(first=first, last=day)
    reports = []
    for stat in stats:
        predictions = await rt.monitor.stored_predictions(stat=stat, first=first, last=day)
        if not any(p.other is not None for p in predictions):
            continue
        pairs = await asyncio.to_thread(settle_pairs, predictions, games)
        props = await rt.monitor.ab_props(stat=stat, first=first, last=day)
        book_pairs = await asyncio.to_thread(settle_book_props, props, games)
        report = await asyncio.to_thread(report_of, stat, pairs, book_pairs)
        if report is not None:
            reports.append(report)
            log.info(
                "A/B %s: %s vs %s, %d pairs, %s",
                stat.value,
                report.challenger_version,
                report.production_version,
                report.production.n,
                report.verdict,
            )
    if publish and reports:
        await broker.publish_many(
            rt.publish_ab_tests, [(r.stat.value.encode(), r) for r in reports]
        )
    return reports
