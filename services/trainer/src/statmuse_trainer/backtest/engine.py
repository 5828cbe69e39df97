"""The backtest engine: walk forward day by day over real prop lines, price each line with the
model that existed before that day and the player's pre-game feature vector, let strategies
bet, settle at night.

What each day may use, and the guard rails that enforce it:
- models: a day uses the newest model set whose training window (every game day it saw while
  fitting, choosing or calibrating) ended before that day; a model set whose window overlaps
  the backtest period is refused outright;
- features: the pipeline's pre-game vectors (`as_of` on or before the game day, built from
  earlier games only); a vector made after its game is refused;
- lines: the books' last snapshot before tip-off; lines that name this system as their source,
  or that sit on the model's own mean almost every time, are refused as derived from its
  predictions.

Two pricing modes: `consensus` bets each market at the books' consensus (the line most books
post, the median price of those books), `best` at the best price posted on that line that is
not an outlier (a stale book: more than 0.05 implied probability more generous than the median).
Player props are void when the player does not play, so only lines on games he played count.
"""

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from statmuse_shared.models.pricing import decimal_odds, devig
from statmuse_shared.models.shopping import american_from_decimal
from statmuse_trainer.backtest.ledger import Bet, bets_frame, daily
from statmuse_trainer.backtest.market import (
    MODES,
    BacktestError,
    Mode,
    ModelSet,
    Quote,
    best_price,
    consensus_market,
    quotes_frame,
)
from statmuse_trainer.backtest.strategies import Strategy
from statmuse_trainer.lines import PropLine
from statmuse_trainer.training.served import line_odds

# Names that mean a line came from this system, not from a book.
OUR_NAMES = frozenset(
    {"statmuse", "statmusepicks", "model", "predictor", "prediction", "reference", "synthetic"}
)
# Lines derived from a model's mean (rounded to a half point) sit within half a point of it
# every time; the books' real lines do for 41% of the quotes (measured on Mar-May 2024: the
# report's `lines_within_half_point_pct`). Above this share, the lines are refused.
DERIVED_SHARE = 0.9
DERIVED_MIN_QUOTES = 30


def _source_name(source: str) -> str:
    """The producer a lines file is named after: "statmuse_2024.csv.gz" -> "statmuse"."""
    return Path(source).name.split(".")[0].split("_")[0].lower()


@dataclass
class Result:
    start: dt.date
    end: dt.date
    bankroll: float
    quotes: pd.DataFrame
    bets: pd.DataFrame  # every strategy and mode, with those as columns
    days: dict[tuple[str, str], pd.DataFrame]
    strategies: list[Strategy]
    modes: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    max_exposure: float = 0.5
    dataset: str = ""


class BacktestEngine:
    def __init__(
        self,
        *,
        features: pd.DataFrame,
        lines: Sequence[tuple[int, PropLine]],
        model_sets: Sequence[ModelSet],
        start: dt.date,
        end: dt.date,
        bankroll: float = 1000.0,
        max_exposure: float = 0.5,
    ) -> None:
        if end < start:
            raise BacktestError(f"the backtest ends ({end}) before it starts ({start})")
        if bankroll <= 0:
            raise BacktestError("the starting bankroll must be positive")
        if not 0 < max_exposure <= 1:
            raise BacktestError("the most staked in a day must be a share in (0, 1]")
        self.start, self.end, self.bankroll = start, end, bankroll
        self.max_exposure = max_exposure
        self.model_sets = sorted(model_sets, key=lambda m: m.last_day)
        self.lines = [(p, x) for p, x in lines if start <= x.game_date <= end]
        missing = {"player_id", "player_name", "game_date", "as_of"} - set(features.columns)
        if missing:
            raise BacktestError(f"the feature rows lack {sorted(missing)}: not a dataset split")
        days = pd.to_datetime(features["game_date"]).dt.date
        self.features = features[(days >= start) & (days <= end)].reset_index(drop=True)
        self.counts = {"lines": len(self.lines)}
        self._check()

    # --- guard rails -----------------------------------------------------------------------

    def _check(self) -> None:
        if not self.model_sets:
            raise BacktestError("no models to backtest")
        for m in self.model_sets:
            if m.first_day <= self.end and m.last_day >= self.start:
                raise BacktestError(
                    f"model set {m.name} was trained (or had its line weights fitted) on "
                    f"games from {m.first_day} to {m.last_day}, which overlaps the backtest "
                    f"period {self.start} to {self.end}: it has seen the outcomes it would bet on"
                )
        ours = sorted(
            {
                f"{x.bookmaker} ({x.source})"
                for _, x in self.lines
                if OUR_NAMES & {x.bookmaker, _source_name(x.source)}
            }
        )
        if ours:
            raise BacktestError(
                f"lines from {', '.join(ours[:5])} name this system as their source: lines "
                "derived from the model's own predictions cannot test it"
            )
        if len(self.features):
            late = pd.to_datetime(self.features["as_of"]) > pd.to_datetime(
                self.features["game_date"]
            )
            if late.any():
                row = self.features[late].iloc[0]
                raise BacktestError(
                    f"{int(late.sum())} feature vectors were made after their game (e.g. "
                    f"player {row['player_id']} on {row['game_date']}): not pre-game features"
                )

    def _check_derived(self, quotes: Sequence[Quote]) -> None:
        if len(quotes) < DERIVED_MIN_QUOTES:
            return
        share = float(np.mean([abs(q.line - q.mean) <= 0.5 for q in quotes]))
        self.counts["lines_within_half_point_pct"] = round(100 * share)
        if share > DERIVED_SHARE:
            raise BacktestError(
                f"{share:.0%} of the lines sit within half a point of the model's own mean: "
                "they look derived from its predictions, which cannot test it"
            )

    # --- the walk --------------------------------------------------------------------------

    def _model_for(self, day: dt.date) -> ModelSet:
        usable = [m for m in self.model_sets if m.last_day < day]
        if not usable:
            raise BacktestError(f"no model set was trained before {day}")
        return usable[-1]

    def quotes(self, progress: Callable[[dt.date], None] = lambda _: None) -> list[Quote]:
        """Every market of every day, priced by the model of that day."""
        priority: dict[str, int] = defaultdict(int)
        markets_of: dict[str, set[str]] = defaultdict(set)
        for _, x in self.lines:
            markets_of[x.source].add(x.market)
        priority.update({s: len(m) for s, m in markets_of.items()})
        by_day: dict[dt.date, dict[tuple[int, str], list[PropLine]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for pid, x in self.lines:
            by_day[x.game_date][(pid, x.market)].append(x)
        rows_of = {
            (int(p), d): i
            for i, (p, d) in enumerate(
                zip(
                    self.features["player_id"],
                    pd.to_datetime(self.features["game_date"]).dt.date,
                    strict=True,
                )
            )
        }
        out: list[Quote] = []
        unplayed = unsettled = 0
        for day in sorted(by_day):
            models = self._model_for(day)
            markets = by_day[day]
            per_stat: dict[str, list[tuple[int, float, list[PropLine], int]]] = defaultdict(list)
            for (pid, stat), found in markets.items():
                row = rows_of.get((pid, day))
                if row is None:
                    unplayed += 1  # void: he did not play
                    continue
                line, books = consensus_market(found, priority)
                per_stat[stat].append((pid, line, books, row))
            for stat, items in per_stat.items():
                model = models.models.get(stat)
                if model is None:
                    continue
                idx = np.array([i[3] for i in items])
                frame = self.features.iloc[idx]
                matrix = frame[[f"f_{c}" for c in model.header.features]].to_numpy(np.float64)
                mu, r, _ = model.means(matrix, [int(p) for p in frame["player_id"]])
                values = np.array([i[1] for i in items])
                # The books' median de-vigged P(over) at the line: the price the predictor's
                # slate weighs (`shopping.books_fair_over`), for a model with a market layer.
                fair = np.array(
                    [statistics.median(b.fair_over for b in i[2]) for i in items], dtype=float
                )
                under, push, over = line_odds(
                    model, mu, r, values, calibrated=True, use_line=True, books=fair
                )  # what the predictor serves
                labels = frame[f"label_{stat}"].to_numpy(np.float64)
                season = frame.get(f"f_{stat}_season_avg")
                for k, (pid, line, books, _) in enumerate(items):
                    if math.isnan(labels[k]):
                        unsettled += 1  # the result is not in the data (threes, some games)
                        continue
                    avg = None if season is None else float(season.iloc[k])
                    out.append(
                        Quote(
                            day=day,
                            stat=stat,
                            player_id=pid,
                            player_name=str(frame["player_name"].iloc[k]),
                            line=line,
                            books=len(books),
                            consensus_over=american_from_decimal(
                                statistics.median(decimal_odds(b.over_odds) for b in books)
                            ),
                            consensus_under=american_from_decimal(
                                statistics.median(decimal_odds(b.under_odds) for b in books)
                            ),
                            best_over=best_price((b.over_odds, b.bookmaker) for b in books),
                            best_under=best_price((b.under_odds, b.bookmaker) for b in books),
                            fair_over=statistics.median(
                                devig(b.over_odds, b.under_odds) for b in books
                            ),
                            season_average=None if avg is None or math.isnan(avg) else avg,
                            actual=float(labels[k]),
                            mean=float(mu[k]),
                            over=float(over[k]),
                            under=float(under[k]),
                            push=float(push[k]),
                            model=models.versions[stat],
                        )
                    )
            progress(day)
        self.counts |= {
            "markets_not_played": unplayed,
            "markets_unsettled": unsettled,
            "quotes": len(out),
        }
        return out

    def simulate(self, quotes: Sequence[Quote], strategy: Strategy, mode: Mode) -> list[Bet]:
        """One strategy in one mode: each morning it sees that day's quotes and stakes from
        that morning's bankroll (the day's total at most `max_exposure` of it); settled at
        night."""
        by_day: dict[dt.date, list[Quote]] = defaultdict(list)
        for q in quotes:
            by_day[q.day].append(q)
        bankroll, bets = self.bankroll, []
        for day in sorted(by_day):
            picks = []
            for q in by_day[day]:
                option = strategy.select(q.choice(mode))
                if option is not None:
                    stake = strategy.stake(option, bankroll=bankroll, starting=self.bankroll)
                    if stake > 0:
                        picks.append((q, option, stake))
            total = sum(p[2] for p in picks)
            scale = min(1.0, self.max_exposure * bankroll / total) if total > 0 else 1.0
            today = [
                Bet(
                    day=day,
                    stat=q.stat,
                    player_id=q.player_id,
                    player_name=q.player_name,
                    side=o.side,
                    line=o.line,
                    american=o.american,
                    book=o.book,
                    stake=stake * scale,
                    probability=o.confidence,
                    expected_value=o.expected_value,
                    actual=q.actual,
                    fair_probability=q.fair(o.side),
                )
                for q, o, stake in picks
            ]
            bankroll += sum(b.profit for b in today)
            bets.extend(today)
        return bets

    def run(
        self,
        strategies: Sequence[Strategy],
        modes: Sequence[Mode] = MODES,
        progress: Callable[[dt.date], None] = lambda _: None,
    ) -> Result:
        objects = self.quotes(progress)
        self._check_derived(objects)
        days = sorted({q.day for q in objects})
        frames: list[pd.DataFrame] = []
        per_run: dict[tuple[str, str], pd.DataFrame] = {}
        for mode in modes:
            for s in strategies:
                bets = bets_frame(self.simulate(objects, s, mode))
                per_run[(s.name, mode)] = daily(bets, days, self.bankroll)
                frames.append(bets.assign(strategy=s.name, mode=mode))
        used = sorted({q.model for q in objects})
        return Result(
            self.start,
            self.end,
            self.bankroll,
            quotes_frame(objects),
            pd.concat(frames, ignore_index=True) if frames else bets_frame([]),
            per_run,
            list(strategies),
            list(modes),
            dict(self.counts),
            used,
            self.max_exposure,
        )
