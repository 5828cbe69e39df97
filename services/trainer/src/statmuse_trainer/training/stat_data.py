"""What a stat's model sees: its feature columns, the rows the pooled model covers, the
reference line of each game, and the training and validation rows of a stat (`StatData`).
Pure: frames in, frames and arrays out."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from statmuse_shared.features import feature_names
from statmuse_shared.features.player import OUT_FEATURES

STATS = ("points", "rebounds", "assists", "threes", "pra")
_STAT_PREFIXES = {"points", "rebounds", "assists", "threes", "pra", "minutes"}
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


def feature_columns(stat: str) -> list[str]:
    """The features a stat's model sees: its own, minutes, the game context; pra also sees
    its three components."""
    own = {stat, "minutes"} | ({"points", "rebounds", "assists"} if stat == "pra" else set())
    return [
        n for n in feature_names() if (p := n.split("_", 1)[0]) in own or p not in _STAT_PREFIXES
    ]


def head_columns(stat: str) -> list[str]:
    return [f.format(s=stat) for f in HEAD_FEATURES]


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


def stat_data(df: pd.DataFrame, stat: str) -> StatData:
    """Training and validation rows of a stat. When the validation season lacks the stat (the
    source has no threes for 2022-23), the last quarter of the training days validates
    instead: still strictly after every training game, and the test season stays unseen."""
    keep = pooled_rows(df, stat)
    part = df.loc[keep].sort_values("game_date", kind="stable")
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
