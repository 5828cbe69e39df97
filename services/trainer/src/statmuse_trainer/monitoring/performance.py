"""How the served predictions did: pure logic, predictions and played games in, daily metrics
out (no I/O).

A prediction (`PredictionMade`) is for a player's next game after its `as_of`; it carries
P(over/under/push) at three half-point lines around its mean, no book line and no odds. The
monitor therefore judges each prediction at the *monitored line*, the one of its lines nearest
its mean, priced at -110 both ways with the gateway's rule (`statmuse_shared.pricing.price`:
the side with the larger EV, PASS under a 2% edge). Settling follows the books: over wins above
the line, under below, on the line is a push that returns the stake; a player who did not play
(0 minutes) voids the bet.
"""

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from statmuse_shared.contract.messages import PropPriced
from statmuse_shared.contract.stats import Stat, total
from statmuse_shared.models.distributions import LineOdds
from statmuse_shared.models.pricing import (
    DEFAULT_AMERICAN_ODDS,
    Recommendation,
    decimal_odds,
    price,
)
from statmuse_trainer import scoring

EASTERN = ZoneInfo("America/New_York")
# A prediction is matched to the player's first game within this many days of its `as_of`; a
# player out for longer (injury, off-season) has no bet anyone would have taken on it.
MAX_DAYS_TO_GAME = 10
ECE_BINS = scoring.ECE_BINS
WINDOW_DAYS = 7

Result = Literal["win", "loss", "push"]


@dataclass(frozen=True, slots=True)
class LineQuote:
    line: float
    over_probability: float
    under_probability: float
    push_probability: float


@dataclass(frozen=True, slots=True)
class OtherArm:
    """During an A/B test, the arm that did not serve the prediction, at its lines."""

    arm: str  # "production" | "challenger"
    model_version: str
    lines: tuple[LineQuote, ...]


@dataclass(frozen=True, slots=True)
class StoredPrediction:
    event_id: str
    player_id: int
    stat: Stat
    as_of: dt.date
    predicted_value: float
    lines: tuple[LineQuote, ...]
    model_version: str
    occurred_at: dt.datetime
    arm: str | None = None  # the A/B arm that served it; None: no test ran
    other: OtherArm | None = None


@dataclass(frozen=True, slots=True)
class PlayedGame:
    player_id: int
    game_date: dt.date
    minutes: float
    outcome: dict[str, float | None]  # the StatLine's numbers: points, rebounds, ... turnovers


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One prediction settled against its game at the monitored line."""

    stat: Stat
    player_id: int
    game_date: dt.date
    line: float
    over_probability: float  # P(over | not a push): what the outcome 1[actual > line] tests
    recommendation: Recommendation
    actual: float
    model_version: str

    @property
    def push(self) -> bool:
        return self.actual == self.line

    @property
    def went_over(self) -> bool:
        return self.actual > self.line

    @property
    def result(self) -> Result | None:
        """The bet's result; None when the recommendation was PASS."""
        if self.recommendation == "PASS":
            return None
        if self.push:
            return "push"
        return "win" if self.went_over == (self.recommendation == "OVER") else "loss"

    @property
    def profit(self) -> float:
        """Profit of a flat 1-unit bet on the recommendation at -110 (0 on PASS and push)."""
        result = self.result
        if result == "win":
            return decimal_odds(DEFAULT_AMERICAN_ODDS) - 1
        return -1.0 if result == "loss" else 0.0


@dataclass(frozen=True, slots=True)
class DayMetrics:
    stat: Stat
    day: dt.date
    predictions: int
    bets: int
    wins: int
    losses: int
    pushes: int
    hit_rate: float | None
    brier: float | None
    ece: float | None
    roi: float | None
    profit: float
    mean_over_probability: float | None
    over_rate: float | None
    bets_7d: int
    hit_rate_7d: float | None
    ece_7d: float | None


def stat_value(stat: Stat, outcome: dict[str, float | None]) -> float | None:
    """The stat's value in a game (a sum of stats adds up its parts); None when the source did
    not record it (threes in some seasons)."""
    return total(stat.value, outcome.get)


def monitored_line(prediction: StoredPrediction) -> LineQuote | None:
    """The prediction's line nearest its mean (the lower one on a tie)."""
    if not prediction.lines:
        return None
    return min(prediction.lines, key=lambda q: (abs(q.line - prediction.predicted_value), q.line))


def _eastern_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(EASTERN).date()


def matched(
    predictions: Iterable[StoredPrediction], games: Iterable[PlayedGame]
) -> list[tuple[StoredPrediction, PlayedGame]]:
    """Each prediction with the player's first game on or after its `as_of` (within
    MAX_DAYS_TO_GAME days), made no later than the game's day (US/Eastern); of several for one
    player's game, the latest made is the one a user saw last and the one judged."""
    by_player: dict[int, list[PlayedGame]] = {}
    for g in games:
        by_player.setdefault(g.player_id, []).append(g)
    for played in by_player.values():
        played.sort(key=lambda g: g.game_date)
    chosen: dict[tuple[Stat, int, dt.date], tuple[StoredPrediction, PlayedGame]] = {}
    for p in predictions:
        game = next((g for g in by_player.get(p.player_id, []) if g.game_date >= p.as_of), None)
        if game is None or (game.game_date - p.as_of).days > MAX_DAYS_TO_GAME:
            continue
        if _eastern_day(p.occurred_at) > game.game_date:
            continue  # made after the game day: never a pre-game prediction
        key = (p.stat, p.player_id, game.game_date)
        if key not in chosen or p.occurred_at > chosen[key][0].occurred_at:
            chosen[key] = (p, game)
    return list(chosen.values())


def settle(predictions: Iterable[StoredPrediction], games: Iterable[PlayedGame]) -> list[Evaluated]:
    """Each prediction (`matched` with its game) judged at its monitored line; pushes stay (a
    bet's result), a player who did not play is left out (a void bet)."""
    out = []
    for p, game in matched(predictions, games):
        actual = stat_value(p.stat, game.outcome)
        quote = monitored_line(p)
        if actual is None or quote is None or game.minutes <= 0:
            continue  # not recorded, nothing to judge, or did not play (a void bet)
        over = over_given_decided(quote.over_probability, quote.under_probability)
        if over is None:
            continue
        odds = LineOdds(
            under_probability=quote.under_probability,
            push_probability=quote.push_probability,
            over_probability=quote.over_probability,
        )
        out.append(
            Evaluated(
                stat=p.stat,
                player_id=p.player_id,
                game_date=game.game_date,
                line=quote.line,
                over_probability=over,
                recommendation=price(odds).recommendation,
                actual=actual,
                model_version=p.model_version,
            )
        )
    return sorted(out, key=lambda e: (e.game_date, e.stat.value, e.player_id))


@dataclass(frozen=True, slots=True)
class SettledPair:
    """One prop both A/B arms priced, settled: each arm's P(over | not a push) at the line the
    served prediction is judged at."""

    stat: Stat
    player_id: int
    game_date: dt.date
    line: float
    production_version: str
    challenger_version: str
    production_over: float
    challenger_over: float
    went_over: bool
    made_at: dt.datetime  # when the served prediction was made
    books_over: float | None = None  # the books' de-vigged P(over), at a posted line


@dataclass(frozen=True, slots=True)
class BookProp:
    """A posted line of an A/B test's key, both arms priced at it (P(over | not a push)) and
    the books' median de-vigged P(over), as last priced before the game."""

    player_id: int
    stat: Stat
    game_date: dt.date
    line: float
    production_version: str
    challenger_version: str
    production_over: float
    challenger_over: float
    books_over: float
    priced_at: dt.datetime


def book_prop(p: PropPriced) -> BookProp | None:
    """The A/B test's view of a priced line: both arms' P(over | not a push) and the books';
    None when no test priced it or no book has a fair price."""
    arms = {a.arm: a.model_version for a in p.ab_arms}
    overs = {
        a.arm: over_given_decided(a.lines[0].over_probability, a.lines[0].under_probability)
        for a in p.ab_arms
    }
    production, challenger = overs.get("production"), overs.get("challenger")
    if production is None or challenger is None or p.books_over_probability is None:
        return None
    return BookProp(
        player_id=p.player_id,
        stat=p.stat,
        game_date=p.game_date,
        line=p.line,
        production_version=arms["production"],
        challenger_version=arms["challenger"],
        production_over=production,
        challenger_over=challenger,
        books_over=p.books_over_probability,
        priced_at=p.occurred_at,
    )


def settle_book_props(props: Iterable[BookProp], games: Iterable[PlayedGame]) -> list[SettledPair]:
    """Each posted line with the player's game that day: the over hit or not. A push, a void
    (0 minutes) or a prop priced after its game day (US/Eastern) is left out. In time order."""
    played = {(g.player_id, g.game_date): g for g in games}
    out = []
    for p in props:
        game = played.get((p.player_id, p.game_date))
        if game is None or game.minutes <= 0 or _eastern_day(p.priced_at) > p.game_date:
            continue
        actual = stat_value(p.stat, game.outcome)
        if actual is None or actual == p.line:
            continue
        out.append(
            SettledPair(
                stat=p.stat,
                player_id=p.player_id,
                game_date=p.game_date,
                line=p.line,
                production_version=p.production_version,
                challenger_version=p.challenger_version,
                production_over=p.production_over,
                challenger_over=p.challenger_over,
                went_over=actual > p.line,
                made_at=p.priced_at,
                books_over=p.books_over,
            )
        )
    return sorted(out, key=lambda e: (e.game_date, e.stat.value, e.player_id, e.line))


def over_given_decided(over: float, under: float) -> float | None:
    """P(over | not a push) from P(over) and P(under); None when both are 0."""
    decided = over + under
    return over / decided if decided > 0 else None


def settle_pairs(
    predictions: Iterable[StoredPrediction], games: Iterable[PlayedGame]
) -> list[SettledPair]:
    """The A/B pairs: every prediction `matched` with its game as `settle` does (among all
    predictions: the one judged is the latest made, paired or not) that carries the other arm,
    both arms at the served prediction's monitored line. A push or a void (0 minutes) says
    nothing about P(over | decided) and is left out. In time order."""
    out = []
    for p, game in matched(predictions, games):
        quote = monitored_line(p)
        if p.other is None or p.arm is None or quote is None or game.minutes <= 0:
            continue
        actual = stat_value(p.stat, game.outcome)
        twin = next((q for q in p.other.lines if q.line == quote.line), None)
        if actual is None or actual == quote.line or twin is None:
            continue
        served = over_given_decided(quote.over_probability, quote.under_probability)
        other = over_given_decided(twin.over_probability, twin.under_probability)
        if served is None or other is None:
            continue
        production_first = p.arm == "production"
        out.append(
            SettledPair(
                stat=p.stat,
                player_id=p.player_id,
                game_date=game.game_date,
                line=quote.line,
                production_version=p.model_version if production_first else p.other.model_version,
                challenger_version=p.other.model_version if production_first else p.model_version,
                production_over=served if production_first else other,
                challenger_over=other if production_first else served,
                went_over=actual > quote.line,
                made_at=p.occurred_at,
            )
        )
    return sorted(out, key=lambda e: (e.game_date, e.stat.value, e.player_id))


def brier(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Mean squared gap between probability and outcome (0/1); None without pairs. Summed
    exactly (`scoring`'s `exact=True`), as the stored daily figures always were."""
    if not pairs:
        return None
    return scoring.brier(*_columns(pairs), exact=True)


def ece(pairs: Sequence[tuple[float, float]], bins: int = ECE_BINS) -> float | None:
    """Expected calibration error in `bins` equal-width bins (the binning the training and
    evaluation ECE use), summed exactly; None without pairs."""
    if not pairs:
        return None
    return scoring.ece(*_columns(pairs), bins, exact=True)


def _columns(pairs: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    return [p for p, _ in pairs], [y for _, y in pairs]


def _pairs(rows: Sequence[Evaluated]) -> list[tuple[float, float]]:
    return [(e.over_probability, 1.0 if e.went_over else 0.0) for e in rows if not e.push]


def _hit_rate(rows: Sequence[Evaluated]) -> tuple[int, int, float | None]:
    wins = sum(e.result == "win" for e in rows)
    losses = sum(e.result == "loss" for e in rows)
    return wins, losses, (wins / (wins + losses) if wins + losses else None)


def day_metrics(stat: Stat, day: dt.date, evaluated: Sequence[Evaluated]) -> DayMetrics:
    """The day's numbers for a stat; `evaluated` may hold more days: the trailing 7-day
    figures pool the bets and predictions of the 7 days ending on `day`."""
    mine = [e for e in evaluated if e.stat is stat]
    today = [e for e in mine if e.game_date == day]
    week = [e for e in mine if 0 <= (day - e.game_date).days < WINDOW_DAYS]
    bets = [e for e in today if e.result is not None]
    wins, losses, hit_rate = _hit_rate(bets)
    pushes = sum(e.result == "push" for e in bets)
    profit = math.fsum(e.profit for e in bets)
    pairs = _pairs(today)
    week_bets = [e for e in week if e.result is not None]
    return DayMetrics(
        stat=stat,
        day=day,
        predictions=len(today),
        bets=len(bets),
        wins=wins,
        losses=losses,
        pushes=pushes,
        hit_rate=hit_rate,
        brier=brier(pairs),
        ece=ece(pairs),
        # Money won over money staked; a push is staked and returned (as in the backtest).
        roi=profit / len(bets) if bets else None,
        profit=profit,
        mean_over_probability=math.fsum(p for p, _ in pairs) / len(pairs) if pairs else None,
        over_rate=math.fsum(y for _, y in pairs) / len(pairs) if pairs else None,
        bets_7d=len(week_bets),
        hit_rate_7d=_hit_rate(week_bets)[2],
        ece_7d=ece(_pairs(week)),
    )


def negative_roi_streak(days: Sequence[tuple[dt.date, int, float | None]]) -> int:
    """Consecutive most recent days with a negative ROI, from (day, bets, roi) rows in any
    order. Days without a bet say nothing and are skipped; a day with ROI >= 0 ends it."""
    streak = 0
    for _, bets, roi in sorted(days, key=lambda d: d[0], reverse=True):
        if bets == 0 or roi is None:
            continue
        if roi >= 0:
            break
        streak += 1
    return streak
