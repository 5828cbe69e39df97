"""Training datasets: game vectors and their outcomes, split by season, saved as parquet with a
content hash as the dataset version.

Default split (DESIGN.md): train 2017-18 … 2021-22, validate and calibrate 2022-23, test
2023-24. Every row is a `game` vector, whose `as_of` is its game's day: nothing from that day
or later entered a feature (the feature engine's leakage tests prove the engine side;
`check` proves the dataset side).
"""

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from statmuse_shared.contract.stats import COMBINATIONS, PARTS, total
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names

if TYPE_CHECKING:
    from statmuse_trainer.ports import ExampleRepository

# What a game's outcome gives (box-score stats and minutes), then the sums of them we predict.
BOX_LABELS = ("points", "rebounds", "assists", "threes", "steals", "blocks", "turnovers", "minutes")
LABELS = (*BOX_LABELS, "pra", *COMBINATIONS)
# The features a combination with no features of its own gets in the frame, from its parts':
# means add up (over the same games: the parts come from one box score), counts are the
# fewest. For its reference line, which rows the pooled model covers and the baselines; not
# model inputs (those are the parts' own features, which the served vector has).
COMBINED_MEANS = ("sma_3", "sma_5", "sma_10", "season_avg", "ema", "career_avg")
COMBINED_COUNTS = ("n_10", "career_n")
META = ("player_id", "player_name", "season", "game_date", "as_of")


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        seen = [*self.train, *self.validation, *self.test]
        if len(set(seen)) != len(seen):
            raise ValueError(f"a season is in two splits: {seen}")
        if not (self.train and self.validation and self.test):
            raise ValueError("train, validation and test each need a season")
        if not max(self.train) < min(self.validation) <= max(self.validation) < min(self.test):
            raise ValueError("splits must follow each other in time: train < validation < test")

    def of(self, season: str) -> str | None:
        for name in ("train", "validation", "test"):
            if season in getattr(self, name):
                return name
        return None


DEFAULT_SPLIT = Split(
    train=("2017-18", "2018-19", "2019-20", "2020-21", "2021-22"),
    validation=("2022-23",),
    test=("2023-24",),
)


@dataclass(frozen=True, slots=True)
class Row:
    player_id: int
    season: str
    game_date: dt.date
    as_of: dt.date
    features: dict[str, float | None]
    outcome: dict[str, float | int | None]
    player_name: str | None = None


class LeakageError(AssertionError):
    pass


def frame(rows: Sequence[Row], split: Split = DEFAULT_SPLIT) -> pd.DataFrame:
    """One row per game vector: meta, split, labels, then every feature (None -> NaN)."""
    names = feature_names()
    records = []
    for r in rows:
        part = split.of(r.season)
        if part is None:
            continue
        o = r.outcome
        labels = {f"label_{k}": o.get(k) for k in BOX_LABELS}
        for combined in ("pra", *COMBINATIONS):
            labels[f"label_{combined}"] = total(combined, o.get)
        records.append(
            {
                "player_id": r.player_id,
                "player_name": r.player_name,
                "season": r.season,
                "game_date": r.game_date,
                "as_of": r.as_of,
                "split": part,
                **labels,
                **{f"f_{n}": r.features.get(n) for n in names},
            }
        )
    columns = [*META, "split", *(f"label_{k}" for k in LABELS), *(f"f_{n}" for n in names)]
    df = pd.DataFrame.from_records(records, columns=columns)
    for c in columns[len(META) + 1 :]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    df["game_date"] = pd.to_datetime(df["game_date"])
    df["as_of"] = pd.to_datetime(df["as_of"])
    df = with_combinations(df)
    return df.sort_values(["game_date", "player_id"], kind="stable").reset_index(drop=True)


def with_combinations(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with the combinations' columns (`COMBINED_MEANS`, `COMBINED_COUNTS`) made
    from their parts' features; a frame that has them already is returned as it is."""
    made = {}
    for combined in COMBINATIONS:
        parts = PARTS[combined]
        for suffix in COMBINED_MEANS:
            made[f"f_{combined}_{suffix}"] = sum(df[f"f_{p}_{suffix}"] for p in parts)
        for suffix in COMBINED_COUNTS:
            made[f"f_{combined}_{suffix}"] = pd.concat(
                [df[f"f_{p}_{suffix}"] for p in parts], axis=1
            ).min(axis=1, skipna=False)
    missing = {k: v for k, v in made.items() if k not in df.columns}
    return pd.concat([df, pd.DataFrame(missing, index=df.index)], axis=1) if missing else df


def check(df: pd.DataFrame, split: Split) -> None:
    """The guarantees a model may rely on; raises LeakageError when one fails."""
    if (df["as_of"] > df["game_date"]).any():
        raise LeakageError("a vector was computed on or after its game day")
    if not (df["as_of"] == df["game_date"]).all():
        raise LeakageError("a row is not a game vector (as_of must be its game's day)")
    by_split = {name: df[df["split"] == name] for name in ("train", "validation", "test")}
    for name, part in by_split.items():
        if not part["season"].isin(getattr(split, name)).all():
            raise LeakageError(f"{name} holds a season outside {getattr(split, name)}")
    train, validation, test = by_split["train"], by_split["validation"], by_split["test"]
    if len(train) and len(test) and train["game_date"].max() >= test["game_date"].min():
        raise LeakageError("a training game is not before every test game")
    if len(train) and len(validation) and train["game_date"].max() >= validation["game_date"].min():
        raise LeakageError("a training game is not before every validation game")


def content_hash(df: pd.DataFrame) -> str:
    """The dataset version: sha256 of the rows and columns, independent of how it was built."""
    digest = hashlib.sha256("|".join(df.columns).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def save(df: pd.DataFrame, directory: Path) -> tuple[str, dict[str, Path]]:
    """Write one parquet file per split under <directory>/<version>/; returns both."""
    version = content_hash(df)
    out = directory / version
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, part in df.groupby("split", sort=True):
        buf = io.BytesIO()
        part.reset_index(drop=True).to_parquet(buf, index=False)
        path = out / f"{name}.parquet"
        path.write_bytes(buf.getvalue())
        paths[str(name)] = path
    return version, paths


@dataclass(frozen=True)
class Built:
    """A dataset written to disk: its version (content hash), a file and a row count per
    split."""

    version: str
    paths: dict[str, Path]
    counts: dict[str, int]


async def build_dataset(examples: "ExampleRepository", split: Split, out: Path) -> Built:
    """`statmuse-trainer dataset`: the stored game vectors of the split's seasons, framed,
    leakage-checked and saved under <out>/<version>/."""
    seasons = [*split.train, *split.validation, *split.test]
    rows = await examples.dataset_rows(feature_set_version=FEATURE_SET_VERSION, seasons=seasons)
    df = frame(rows, split)
    check(df, split)
    version, paths = save(df, out)
    counts = {str(k): int(v) for k, v in df["split"].value_counts().items()}
    return Built(version, paths, counts)
