"""A ledger of settled bets and what it adds up to: the bankroll walk, ROI, win rate, daily
Sharpe, drawdown and closing-line value, each with a bootstrap 95% interval.

Settling follows the books' rules for player props: over wins when the result is above the
line, under when below, a result on the line is a push and returns the stake. Bets placed on
one day are staked from that morning's bankroll and settled together that night.

Intervals resample betting days (a day's bets share the slate, so they are not independent)
with replacement and replay their profits in the drawn order; the point value is always the
ledger's own, exact figure.
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from statmuse_shared.models.pricing import decimal_odds
from statmuse_trainer.scoring import Estimate

Side = Literal["OVER", "UNDER"]
Outcome = Literal["win", "loss", "push"]


@dataclass(frozen=True, slots=True)
class Bet:
    day: dt.date
    stat: str
    player_id: int
    player_name: str
    side: Side
    line: float
    american: int
    book: str
    stake: float
    probability: float  # our P(win) at the line
    expected_value: float  # ours, per unit staked
    actual: float
    fair_probability: float | None = None  # the books' consensus de-vigged P(side), at close

    @property
    def decimal(self) -> float:
        return decimal_odds(self.american)

    @property
    def outcome(self) -> Outcome:
        if self.actual == self.line:
            return "push"
        won = self.actual > self.line if self.side == "OVER" else self.actual < self.line
        return "win" if won else "loss"

    @property
    def profit(self) -> float:
        outcome = self.outcome
        if outcome == "win":
            return self.stake * (self.decimal - 1)
        return -self.stake if outcome == "loss" else 0.0

    @property
    def clv(self) -> float | None:
        """Closing-line value: what the price taken is worth at the books' closing fair
        probability (fair × decimal − 1); positive means the bet beat the close."""
        if self.fair_probability is None:
            return None
        return self.fair_probability * self.decimal - 1


def bets_frame(bets: Sequence[Bet]) -> pd.DataFrame:
    columns = [
        "day",
        "stat",
        "player_id",
        "player_name",
        "side",
        "line",
        "american",
        "decimal",
        "book",
        "stake",
        "probability",
        "expected_value",
        "actual",
        "outcome",
        "profit",
        "fair_probability",
        "clv",
    ]
    rows = [
        (
            b.day,
            b.stat,
            b.player_id,
            b.player_name,
            b.side,
            b.line,
            b.american,
            b.decimal,
            b.book,
            b.stake,
            b.probability,
            b.expected_value,
            b.actual,
            b.outcome,
            b.profit,
            b.fair_probability,
            b.clv,
        )
        for b in bets
    ]
    return pd.DataFrame(rows, columns=columns)


def daily(bets: pd.DataFrame, days: Sequence[dt.date], start: float) -> pd.DataFrame:
    """One row per betting day (days without a bet included): the morning bankroll, what was
    staked and won, the counts the metrics need."""
    frame = pd.DataFrame(index=pd.Index(sorted(set(days)), name="day"))
    if len(bets):
        g = bets.groupby("day")
        frame["staked"] = g["stake"].sum()
        frame["profit"] = g["profit"].sum()
        frame["bets"] = g.size()
        counts = pd.crosstab(bets["day"], bets["outcome"])
        for outcome, column in (("win", "wins"), ("loss", "losses"), ("push", "pushes")):
            if outcome in counts:
                frame[column] = counts[outcome]
        frame["decimal_sum"] = g["decimal"].sum()
        frame["clv_sum"] = g["clv"].sum()
        frame["clv_n"] = g["clv"].count()
    for column in (
        "staked",
        "profit",
        "bets",
        "wins",
        "losses",
        "pushes",
        "decimal_sum",
        "clv_sum",
        "clv_n",
    ):
        frame[column] = frame.get(column, pd.Series(dtype=float)).reindex(frame.index).fillna(0)
    frame["end"] = start + frame["profit"].cumsum()
    frame["start"] = frame["end"] - frame["profit"]
    frame["return"] = frame["profit"] / frame["start"].where(frame["start"] > 0)
    return frame


def _drawdown(path: np.ndarray) -> float:
    """Largest fall from a running peak, as a share of that peak."""
    peaks = np.maximum.accumulate(path)
    return float(np.max((peaks - path) / peaks)) if len(path) else 0.0


def _metrics(d: dict[str, np.ndarray], start: float) -> dict[str, float]:
    """The bankroll path compounds each day's return on the morning's bankroll: on the ledger's
    own days in order that is exactly its bankroll; on resampled days, a path it could have
    taken. ROI is money won over money staked."""
    staked, won = d["staked"].sum(), d["profit"].sum()
    decided = d["wins"].sum() + d["losses"].sum()
    returns = np.nan_to_num(d["return"], nan=0.0)  # nothing is staked from an empty bankroll
    sd = returns.std(ddof=1) if len(returns) > 1 else 0.0
    path = start * np.concatenate([[1.0], np.cumprod(1 + returns)])
    return {
        "final_bankroll": float(path[-1]),
        "profit": float(path[-1] - start),
        "roi": won / staked if staked > 0 else math.nan,
        "win_rate": d["wins"].sum() / decided if decided > 0 else math.nan,
        "average_odds": d["decimal_sum"].sum() / d["bets"].sum() if d["bets"].sum() else math.nan,
        "daily_sharpe": float(returns.mean() / sd) if sd > 0 else math.nan,
        "max_drawdown": _drawdown(path),
        "clv": d["clv_sum"].sum() / d["clv_n"].sum() if d["clv_n"].sum() else math.nan,
    }


METRICS = (
    "final_bankroll",
    "profit",
    "roi",
    "win_rate",
    "average_odds",
    "daily_sharpe",
    "max_drawdown",
    "clv",
)


def summarise(
    days: pd.DataFrame, start: float, *, rounds: int = 1000, seed: int = 7
) -> dict[str, object]:
    """Every metric with its bootstrap interval, plus the plain counts."""
    columns = (
        "staked",
        "profit",
        "wins",
        "losses",
        "bets",
        "decimal_sum",
        "clv_sum",
        "clv_n",
        "return",
    )
    arrays = {c: days[c].to_numpy(np.float64) for c in columns}
    point = _metrics(arrays, start)
    n = len(days)
    draws: dict[str, list[float]] = {m: [] for m in METRICS}
    rng = np.random.default_rng(seed)
    for _ in range(rounds if n else 0):
        idx = rng.integers(0, n, n)
        for m, v in _metrics({c: a[idx] for c, a in arrays.items()}, start).items():
            draws[m].append(v)
    out: dict[str, object] = {
        "bets": int(days["bets"].sum()),
        "pushes": int(days["pushes"].sum()),
        "wins": int(days["wins"].sum()),
        "losses": int(days["losses"].sum()),
        "staked": float(days["staked"].sum()),
        "days": n,
    }
    for m in METRICS:
        finite = np.array([v for v in draws[m] if math.isfinite(v)])
        if len(finite) and math.isfinite(point[m]):
            low, high = np.percentile(finite, [2.5, 97.5])
            out[m] = Estimate(float(point[m]), float(low), float(high), n)
        else:
            out[m] = Estimate(float(point[m]), math.nan, math.nan, n)
    return out
