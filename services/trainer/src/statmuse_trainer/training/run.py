"""A training run (`statmuse train`): every asked stat fitted on a dataset version, then the
run's report and bundles written under OUT/<date>/ (training/reports.py)."""

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


def load_dataset(directory: Path) -> tuple[str, pd.DataFrame] | None:
    """A dataset version directory's splits as one frame, with the version (the directory's
    name); None when it holds no parquet files."""
    files = sorted(directory.glob("*.parquet"))
    if not files:
        return None
    return directory.name, pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def run_training(
    df: pd.DataFrame,
    *,
    dataset_version: str,
    stats: Sequence[Stat],
    jobs: int,
    out: Path,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> TrainingRun:
    """Fit every stat in order (candidates, search, ensembles, per-player heads,
    calibration) and write the report."""
    progress = progress or Quiet()
    started = time.perf_counter()
    fitted = []
    for stat in stats:
        progress.stat(stat.value)
        fitted.append(fit_stat(df, stat.value, jobs=jobs, tick=progress.step))
        progress.done(stat.value)
    folder = out / (today or dt.date.today()).isoformat()
    reports.write(folder, fitted, dataset_version=dataset_version)
    return TrainingRun(dataset_version, fitted, folder, time.perf_counter() - started)
