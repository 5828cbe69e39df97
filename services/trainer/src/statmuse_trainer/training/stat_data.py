"""What a stat's model sees: its feature columns, the rows the pooled model covers, the
reference line of each game, and the training and validation rows of a stat (`StatData`).
Pure: frames in, frames and arrays out."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from statmuse_shared.contract.stats import PARTS, Stat
from statmuse_shared.features import feature_names
from statmuse_shared.features.player import COMPACT_STATS, OUT_FEATURES
from statmuse_shared.features.player import STATS as FEATURE_STATS

STATS = tuple(s.value for s in Stat)
# The stats with markets in the bundled lines, fitted with the full search; the others
# (steals, blocks, turnovers and the sums of two) with the light one (training/fitting.py).
LINE_STATS = ("points", "rebounds", "assists", "threes", "pra")
_STAT_PREFIXES = {*FEATURE_STATS, *COMPACT_STATS}
MIN_HISTORY = 3  # games of the stat before the pooled model is trusted; fewer -> league baseline
HEAD_FEATURES = (
    "{s}_sma_10",
    "{s}_season_avg",
    "{s}_ema",
    "{s}_career_avg",
    "minutes_sma_10",
    "minutes_sma_3",
    "is_home",
    "back_to_back",
    "days_rest",
    "opp_def_rating",
    "opp_pace",
)


def is_light(stat: str) -> bool:
    """Whether the stat gets the light fit (no bundled lines to judge a full search by)."""
    return stat not in LINE_STATS


def feature_columns(stat: str) -> list[str]:
    """The features a stat's model sees: its own, minutes, the game context; a sum of stats
    (pra, pr, stocks, ...) also sees its parts'. A stat of the light fit sees only the compact
    families of those stats (the means, spreads, counts and rates)."""
    own = {stat, "minutes", *PARTS.get(stat, ())}
    compact = _compact_names() if is_light(stat) else None
    return [
        n
        for n in feature_names()
        if ((p := n.split("_", 1)[0]) in own and (compact is None or n in compact))
        or p not in _STAT_PREFIXES
    ]


def _compact_names() -> set[str]:
    """The features of the compact families, for every stat that has them."""
    from statmuse_shared.features.catalogue import CATALOGUE

    families = {f.family for f in CATALOGUE if f.stat in COMPACT_STATS}
    return {f.name for f in CATALOGUE if f.family in families}


def has_features(stat: str) -> bool:
    """Whether the vector has features of the stat itself (the sums of two have none)."""
    return stat in _STAT_PREFIXES


def head_columns(stat: str) -> list[str]:
    """The per-player heads' inputs: the stat's means (its parts' for a sum of two), the
    minutes and the game."""
    own = [f for f in HEAD_FEATURES if "{s}" in f]
    shared = [f for f in HEAD_FEATURES if "{s}" not in f]
    stats = [stat] if has_features(stat) else list(PARTS[stat])
    return [f.format(s=s) for s in stats for f in own] + shared


def history_feature(stat: str) -> str:
    """The served model's count of past values: too few, and the league baseline answers."""
    return f"{stat if has_features(stat) else PARTS[stat][0]}_career_n"


def centre_feature(stat: str) -> str:
    """The served model's recent mean: without one, the league baseline answers."""
    return f"{stat if has_features(stat) else PARTS[stat][0]}_sma_10"


def reference_lines(df: pd.DataFrame, stat: str) -> np.ndarray:
    """The half-point line just above the last-10 mean (books set lines near it)."""
    base = df[f"f_{stat}_sma_10"].fillna(df[f"f_{stat}_season_avg"]).to_numpy()
    return np.asarray(np.maximum(np.floor(base) + 0.5, 0.5), dtype=np.float64)


@dataclass
class StatData:
    stat: str
    columns: list[str]
    train: pd.DataFrame
    validation: pd.DataFrame
    validation_note: str | None = None  # set when validation is not the validation season

    def x(self, part: str) -> np.ndarray:
        frame: pd.DataFrame = getattr(self, part)
        return frame[[f"f_{c}" for c in self.columns]].to_numpy(np.float64)

    def y(self, part: str) -> np.ndarray:
        frame: pd.DataFrame = getattr(self, part)
        return frame[f"label_{self.stat}"].to_numpy(np.float64)

    def lines(self, part: str) -> np.ndarray:
        return reference_lines(getattr(self, part), self.stat)


def pooled_rows(df: pd.DataFrame, stat: str) -> pd.Series:
    """Rows the pooled model covers: a label, enough history, and a reference line."""
    return (
        df[f"label_{stat}"].notna()
        & (df[f"f_{stat}_career_n"].fillna(0) >= MIN_HISTORY)
        & df[f"f_{stat}_sma_10"].notna()
    )


MIN_VALIDATION_ROWS = 200
HOLDOUT_SHARE = 0.25
# Who is out comes from a feed that a game may lack (no report yet, or a deployment without
# the feed, as the live nba_api path is today), while every training game has one: a share
# of the training rows go without it, so that a model answers a game without a report from
# what it learnt on such rows, not down branches no training row took. Which rows: a hash of
# the player and the day, so a retrain on the same data blanks the same ones.
UNREPORTED_SHARE = 0.25


def without_reports(frame: pd.DataFrame, share: float = UNREPORTED_SHARE) -> pd.DataFrame:
    """`frame` with the who-is-out features blanked on a fixed `share` of its rows (training
    rows; every row, share 1, where fit-lines and fit-market read the test split)."""
    columns = [f"f_{n}" for n in OUT_FEATURES if f"f_{n}" in frame.columns]
    if not columns or frame.empty:
        return frame
    keys = pd.util.hash_pandas_object(frame[["player_id", "game_date"]], index=False)
    blank = (keys.to_numpy() % 1000) < share * 1000
    out = frame.copy()
    out.loc[blank, columns] = np.nan
    return out


def _read_by_fit(df: pd.DataFrame, stat: str) -> list[str]:
    """The frame's columns a stat's fit reads (a copy of only these is much smaller than the
    whole frame's hundreds of columns)."""
    wanted = {
        "player_id",
        "season",
        "game_date",
        "split",
        f"label_{stat}",
        *(f"f_{c}" for c in (*feature_columns(stat), *head_columns(stat))),
        *(f"f_{stat}_{s}" for s in ("sma_10", "season_avg", "career_n")),
        *(f"f_{n}" for n in OUT_FEATURES),
    }
    return [c for c in df.columns if c in wanted]


def stat_data(df: pd.DataFrame, stat: str) -> StatData:
    """Training and validation rows of a stat. When the validation season lacks the stat (the
    source has no threes for 2022-23), the last quarter of the training days validates
    instead: still strictly after every training game, and the test season stays unseen."""
    keep = pooled_rows(df, stat)
    part = df.loc[keep, _read_by_fit(df, stat)].sort_values("game_date", kind="stable")
    train = part[part["split"] == "train"].reset_index(drop=True)
    validation = part[part["split"] == "validation"].reset_index(drop=True)
    if len(validation) >= MIN_VALIDATION_ROWS or train.empty:
        return StatData(stat, feature_columns(stat), without_reports(train), validation)
    days = np.sort(train["game_date"].unique())
    cut = days[int(len(days) * (1 - HOLDOUT_SHARE))]
    note = (
        f"only {len(validation)} {stat} labels in the validation season, so validated on "
        f"the last quarter of training days (from {pd.Timestamp(cut).date()})"
    )
    return StatData(
        stat,
        feature_columns(stat),
        without_reports(train[train["game_date"] < cut].reset_index(drop=True)),
        train[train["game_date"] >= cut].reset_index(drop=True),
        note,
    )
