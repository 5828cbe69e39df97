"""What the backtest bets on: the model sets it may use (`ModelSet`, with their training
windows), a player's market on a day as the books post it (the consensus line and prices,
the best price) and as we price it (`Quote`)."""

import datetime as dt
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from statmuse_shared.models.count import CountModel
from statmuse_shared.models.output import ModelInputError
from statmuse_shared.models.pricing import decimal_odds, expected_value
from statmuse_shared.models.shopping import outliers
from statmuse_trainer.backtest.strategies import Choice, Option
from statmuse_trainer.lines import PropLine

Mode = Literal["consensus", "best"]
MODES: tuple[Mode, ...] = ("consensus", "best")


class BacktestError(ValueError):
    """The backtest cannot be run honestly as asked; the message says why."""


@dataclass(frozen=True)
class ModelSet:
    """One directory of bundles (`<stat>.npz` with their `.json` metadata), as trained together."""

    name: str
    models: dict[str, CountModel]
    versions: dict[str, str]
    first_day: dt.date
    last_day: dt.date

    @classmethod
    def load(cls, directory: Path) -> "ModelSet":
        models: dict[str, CountModel] = {}
        versions: dict[str, str] = {}
        firsts, lasts = [], []
        for bundle in sorted(directory.glob("*.npz")):
            try:
                model = CountModel.from_bytes(bundle.read_bytes())
            except (OSError, ModelInputError) as exc:
                raise BacktestError(f"{bundle}: {exc}") from exc
            sidecar = bundle.with_suffix(".json")
            meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
            window = meta.get("training_window") or {}
            if "first_day" not in window or "last_day" not in window:
                raise BacktestError(
                    f"{bundle}: its metadata ({sidecar.name}) states no training window; a "
                    "model whose training period is unknown may have seen the backtest's games"
                )
            firsts.append(dt.date.fromisoformat(window["first_day"]))
            lasts.append(dt.date.fromisoformat(window["last_day"]))
            # The line blend and the market layer saw those days' lines too.
            for fitted in (model.header.line_blend, model.header.market_layer):
                if fitted is not None:
                    firsts.append(fitted.first_day)
                    lasts.append(fitted.last_day)
            models[model.stat.value] = model
            versions[model.stat.value] = f"{directory.name}/{model.header.name}"
        if not models:
            raise BacktestError(f"no model bundles (*.npz) in {directory}")
        return cls(directory.name, models, versions, min(firsts), max(lasts))


@dataclass(frozen=True, slots=True)
class Quote:
    """One player's market on one day: the consensus line, its prices, what we think."""

    day: dt.date
    stat: str
    player_id: int
    player_name: str
    line: float
    books: int
    consensus_over: int
    consensus_under: int
    best_over: tuple[int, str]
    best_under: tuple[int, str]
    fair_over: float  # the books' median de-vigged P(over) at the line
    season_average: float | None
    actual: float
    mean: float
    over: float  # our calibrated P(over), P(under), P(push) at the line
    under: float
    push: float
    model: str

    def choice(self, mode: Mode) -> Choice:
        if mode == "consensus":
            over_price, under_price = (
                (self.consensus_over, "consensus"),
                (self.consensus_under, "consensus"),
            )
        else:
            over_price, under_price = self.best_over, self.best_under
        return Choice(
            Option(
                "OVER",
                self.line,
                over_price[0],
                over_price[1],
                self.over,
                self.under,
                self.push,
                expected_value(self.over, self.under, over_price[0]),
            ),
            Option(
                "UNDER",
                self.line,
                under_price[0],
                under_price[1],
                self.under,
                self.over,
                self.push,
                expected_value(self.under, self.over, under_price[0]),
            ),
            self.season_average,
        )

    def fair(self, side: str) -> float:
        return self.fair_over if side == "OVER" else 1 - self.fair_over


def quotes_frame(quotes: Sequence[Quote]) -> pd.DataFrame:
    return pd.DataFrame({f: [getattr(q, f) for q in quotes] for f in Quote.__slots__})


def consensus_market(
    lines: list[PropLine], priority: dict[str, int]
) -> tuple[float, list[PropLine]]:
    """The consensus line of one market and the books posting it. Where two files cover the
    same market, the one covering more markets is used alone (their snapshots differ in time,
    and mixing them would let a strategy pick the better of two moments after the fact)."""
    top = max(priority.get(line.source, 0) for line in lines)
    lines = [line for line in lines if priority.get(line.source, 0) == top]
    by_book: dict[str, PropLine] = {}
    for line in lines:
        by_book.setdefault(line.bookmaker, line)
    counts: dict[float, list[PropLine]] = defaultdict(list)
    for line in by_book.values():
        counts[line.line].append(line)
    # Most books; on a tie the main line, whose fair price is nearest an even bet.
    chosen = min(
        counts,
        key=lambda v: (
            -len(counts[v]),
            abs(statistics.median(x.fair_over for x in counts[v]) - 0.5),
            v,
        ),
    )
    return chosen, counts[chosen]


def best_price(prices: Iterable[tuple[int, str]]) -> tuple[int, str]:
    """The best price that is not an outlier (`shopping.outliers`: more generous than the
    books' median by more than 0.05 implied probability, a stale book's); between equal
    prices, the book first by name (deterministic)."""
    posted = list(prices)
    flags = outliers([price for price, _ in posted])
    kept = [p for p, out in zip(posted, flags, strict=True) if not out]
    return max(sorted(kept, key=lambda p: p[1]), key=lambda p: decimal_odds(p[0]))
