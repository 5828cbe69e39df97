"""A training run (`statmuse train`): every asked stat fitted on a dataset version, then the
run's report and bundles written under OUT/<date>/ (training/reports.py)."""

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.training import reports
from statmuse_trainer.training.fitting import FittedStat, fit_stat


class Progress(Protocol):
    """Told how a run goes (the CLI draws a bar)."""

    def stat(self, stat: str) -> None:
        """A stat's fit starts."""

    def step(self, message: str) -> None:
        """A step within a stat's fit is done."""

    def done(self, stat: str) -> None:
        """A stat's fit is done."""


class Quiet:
    def stat(self, stat: str) -> None:
        pass

    def step(self, message: str) -> None:
        pass

    def done(self, stat: str) -> None:
        pass


@dataclass(frozen=True)
class TrainingRun:
    dataset_version: str
    fitted: list[FittedStat]
    folder: Path  # the report and the bundles
    seconds: float

    def report_files(self, stat: str) -> list[Path]:
        """The report's files about `stat` (`*_<stat>.*`) and about the whole run."""
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file() and (p.stem.endswith(f"_{stat}") or p.name in reports.RUN_FILES)
        )


def load_dataset(directory: Path) -> tuple[str, pd.DataFrame] | None:
    """A dataset version directory's splits as one frame, with the version (the directory's
    name); None when it holds no parquet files."""
    files = sorted(directory.glob("*.parquet"))
    if not files:
        return None
    return directory.name, pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def final_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every season of the dataset for the production refit: the last one chooses and
    calibrates (validation), the ones before it train; nothing is held out (the walk-forward
    evaluation is where the protocol was judged)."""
    seasons = sorted(df["season"].unique())
    if len(seasons) < 2:
        raise ValueError(f"a final fit needs two seasons, the dataset has {seasons}")
    out = df.copy()
    out["split"] = np.where(out["season"] == seasons[-1], "validation", "train")
    return out


def carry_line_weights(fitted: FittedStat, source: Path) -> bool:
    """Give a fitted bundle the line blend and market layer of `source/<stat>.npz`: they were
    fitted on real lines where that model had not seen the games, which a model refitted on
    those games cannot give honestly. Returns whether there was one to carry."""
    from statmuse_shared.models.count import CountModel

    path = source / f"{fitted.stat}.npz"
    if not path.exists():
        return False
    header = CountModel.from_bytes(path.read_bytes()).header
    fitted.bundle = CountModel.with_header(
        fitted.bundle, line_blend=header.line_blend, market_layer=header.market_layer
    )
    fitted.header = CountModel.from_bytes(fitted.bundle).header
    return True


def run_training(
    df: pd.DataFrame,
    *,
    dataset_version: str,
    stats: Sequence[Stat],
    jobs: int,
    out: Path,
    progress: Progress | None = None,
    today: dt.date | None = None,
    carry_from: Path | None = None,
) -> TrainingRun:
    """Fit every stat in order (candidates, search, ensembles, per-player heads,
    calibration) and write the report; with `carry_from`, each bundle takes the line weights
    and market layer of the bundle of its stat there."""
    progress = progress or Quiet()
    started = time.perf_counter()
    fitted = []
    for stat in stats:
        progress.stat(stat.value)
        f = fit_stat(df, stat.value, jobs=jobs, tick=progress.step)
        if carry_from is not None and carry_line_weights(f, carry_from):
            progress.step(f"{stat.value}: line weights and market layer from {carry_from}")
        fitted.append(f)
        progress.done(stat.value)
    folder = out / (today or dt.date.today()).isoformat()
    reports.write(folder, fitted, dataset_version=dataset_version)
    return TrainingRun(dataset_version, fitted, folder, time.perf_counter() - started)
