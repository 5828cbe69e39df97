"""Real sportsbook prop lines (data/nba/prop_lines): loaded, matched to players, de-vigged,
joined to the dataset's games. The evaluation, the backtest and the line-weight fit use them.

The books' fair P(over) is the benchmark a model has to beat: p_raw = 100/(odds+100) for
positive and -odds/(-odds+100) for negative American odds, normalised so over + under = 1.
Names are the books' spelling; they match NBA names after removing accents, punctuation and
suffixes (Jr., III), which is what the data's README promises for about 98% of rows.
"""

import csv
import datetime as dt
import gzip
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from statmuse_shared.contract.books import american_odds, canonical_book
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.models.pricing import devig

if TYPE_CHECKING:
    import pandas as pd

MARKETS = {"points", "rebounds", "assists", "threes", "pra"}


def match_key(name: str) -> str:
    """The key a book's name and an NBA name share (statmuse_shared.contract.names)."""
    return normalize_name(name)


@dataclass(frozen=True, slots=True)
class PropLine:
    game_date: dt.date
    player_name: str
    market: str
    bookmaker: str
    line: float
    over_odds: int
    under_odds: int
    source: str = ""  # the file the line came from

    @property
    def fair_over(self) -> float:
        return devig(self.over_odds, self.under_odds)


def read_lines(paths: Iterable[Path]) -> Iterator[PropLine]:
    """Every usable line; rows with an unknown market or unusable odds are skipped."""
    for path in paths:
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                over, under = american_odds(r["over_odds"]), american_odds(r["under_odds"])
                if r["market"] not in MARKETS or over is None or under is None:
                    continue
                try:
                    line = float(r["line"])
                except ValueError:
                    continue
                yield PropLine(
                    dt.date.fromisoformat(r["game_date"][:10]),
                    r["player_name"],
                    r["market"],
                    canonical_book(r["bookmaker"]),
                    line,
                    over,
                    under,
                    path.name,
                )


def match_frame(
    frame: "pd.DataFrame", lines_dir: Path
) -> tuple[list[tuple[int, PropLine]], list[PropLine]]:
    """Every line file in `lines_dir` matched to the players of a dataset frame (its
    player_name and player_id columns): `match_players` with the frame's names."""
    known = frame.dropna(subset=["player_name"]).drop_duplicates("player_id")
    names = {str(n): int(p) for n, p in zip(known["player_name"], known["player_id"], strict=True)}
    return match_players(read_lines(sorted(lines_dir.glob("*.csv.gz"))), names)


def match_players(
    lines: Iterable[PropLine], players: Mapping[str, int]
) -> tuple[list[tuple[int, PropLine]], list[PropLine]]:
    """(player_id, line) for names found in `players` (NBA name -> id), and the rest."""
    by_key = {match_key(name): pid for name, pid in players.items()}
    matched, unmatched = [], []
    for line in lines:
        pid = by_key.get(match_key(line.player_name))
        if pid is None:
            unmatched.append(line)
        else:
            matched.append((pid, line))
    return matched, unmatched


@dataclass(frozen=True, slots=True)
class LineRows:
    """Real lines joined to test rows: row index, line, books' fair P(over), outcome, and the
    book with its prices."""

    row: np.ndarray
    line: np.ndarray
    books: np.ndarray
    went_over: np.ndarray
    bookmaker: np.ndarray
    over_odds: np.ndarray
    under_odds: np.ndarray


def join_lines(test: "pd.DataFrame", lines: Sequence[tuple[int, PropLine]], stat: str) -> LineRows:
    """Every real line of `stat` on a test game; pushes are left out (neither side wins)."""
    index = {
        (int(p), d): i
        for i, (p, d) in enumerate(zip(test["player_id"], test["game_date"].dt.date, strict=True))
    }
    labels = test[f"label_{stat}"].to_numpy(np.float64)
    rows, values, books, over, makers, prices = [], [], [], [], [], []
    for player_id, line in lines:
        if line.market != stat:
            continue
        i = index.get((player_id, line.game_date))
        if i is None or math.isnan(labels[i]) or labels[i] == line.line:
            continue
        rows.append(i)
        values.append(line.line)
        books.append(line.fair_over)
        over.append(float(labels[i] > line.line))
        makers.append(line.bookmaker)
        prices.append((line.over_odds, line.under_odds))
    odds = np.array(prices, dtype=np.int64).reshape(-1, 2)
    return LineRows(
        np.array(rows, dtype=int),
        np.array(values, dtype=float),
        np.array(books, dtype=float),
        np.array(over, dtype=float),
        np.array(makers, dtype=object),
        odds[:, 0],
        odds[:, 1],
    )
