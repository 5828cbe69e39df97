"""A backtest run (`statmuse backtest`): the dataset's pre-game feature rows and the real
lines matched to its players, the model sets, the walk forward, and the report on disk."""

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from statmuse_trainer.backtest import report
from statmuse_trainer.backtest.engine import BacktestEngine
from statmuse_trainer.backtest.market import MODES, BacktestError, Mode, ModelSet
from statmuse_trainer.backtest.strategies import Strategy
from statmuse_trainer.lines import match_frame
from statmuse_trainer.training.run import load_dataset

# Given the number of days, a context whose value is told each day done (a progress bar).
Days = Callable[[int], AbstractContextManager[Callable[[dt.date], None]]]


class Pricing(StrEnum):
    """Which prices the strategies bet at: the books' consensus, the best, or both runs."""

    CONSENSUS = "consensus"
    BEST = "best"
    BOTH = "both"

    @property
    def modes(self) -> list[Mode]:
        return [m for m in MODES if self.value in (m, "both")]


@dataclass(frozen=True)
class BacktestRun:
    folder: Path  # the bets, pictures, summary and README
    text: str  # the README's markdown


def _quiet(_: int) -> AbstractContextManager[Callable[[dt.date], None]]:
    return nullcontext(lambda _: None)


def run_backtest(
    *,
    dataset: Path,
    lines_dir: Path,
    model_dirs: Sequence[Path],
    start: dt.date,
    end: dt.date,
    strategies: Sequence[Strategy],
    modes: Sequence[Mode],
    bankroll: float,
    max_exposure: float,
    out: Path,
    rounds: int,
    command: str,
    write: Path | None = None,
    days: Days = _quiet,
) -> BacktestRun:
    """Walk forward over the real lines of [start, end] and write the report to
    OUT/<start>_<end>/ (and, with `write`, a copy whose links point there). Raises
    BacktestError when the run cannot be honest (see the engine's guard rails)."""
    loaded = load_dataset(dataset)
    if loaded is None:
        raise BacktestError(f"no parquet files in {dataset}")
    features = loaded[1]
    matched, unmatched = match_frame(features, lines_dir)
    sets = [ModelSet.load(m) for m in model_dirs]
    engine = BacktestEngine(
        features=features,
        lines=matched,
        model_sets=sets,
        start=start,
        end=end,
        bankroll=bankroll,
        max_exposure=max_exposure,
    )
    with days(len({x.game_date for _, x in engine.lines})) as tick:
        result = engine.run(strategies, modes, progress=tick)
    result.counts["lines_unmatched_names"] = len(unmatched)
    result.dataset = dataset.name
    folder = out / f"{start}_{end}"
    text = report.write(folder, result, command=command, rounds=rounds)
    if write is not None:
        rel = Path("..") / folder if not folder.is_absolute() else folder
        write.write_text(text.replace("](./", f"]({rel.as_posix()}/") + "\n")
    return BacktestRun(folder, text)
