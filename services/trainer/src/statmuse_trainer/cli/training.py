"""`dataset`, `train`, `fit-lines`, `fit-market`: building the dataset, training every stat's
model, and fitting the line weights and the market layer into the bundles (training/)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from statmuse_shared.contract.seasons import parse_seasons
from statmuse_shared.contract.stats import Stat
from statmuse_trainer.cli.common import (
    dataset_dir,
    echo_events,
    fail,
    load_settings,
    one_shot,
    run,
)
from statmuse_trainer.training.dataset import Built, Split, build_dataset

if TYPE_CHECKING:
    import datetime as dt

    from rich.progress import Progress

    from statmuse_shared.contract.messages import ModelPublished
    from statmuse_trainer.settings import TrainerSettings
    from statmuse_trainer.training.run import TrainingRun

DEFAULT_STATS = ",".join(s.value for s in Stat)


class Stats(tuple[Stat, ...]):
    """--stats: comma-separated stat names, in the order given."""

    def __str__(self) -> str:
        return ",".join(s.value for s in self)


def parse_stats(text: "str | Stats") -> Stats:
    if isinstance(text, Stats):
        return text
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = set(wanted) - {s.value for s in Stat}
    if unknown:
        raise typer.BadParameter(f"unknown stats {sorted(unknown)}", param_hint="--stats")
    return Stats(Stat(s) for s in wanted)


ALL_STATS = parse_stats(DEFAULT_STATS)


async def _build(settings: "TrainerSettings", split: Split, out: Path) -> Built:
    async with one_shot(settings, kafka=False) as rt:
        return await build_dataset(rt.examples, split, out)


def dataset(
    train: Annotated[str, typer.Option(help="Training seasons")] = "2017-18..2021-22",
    validate: Annotated[str, typer.Option(help="Validation and calibration seasons")] = "2022-23",
    test: Annotated[str, typer.Option(help="Test seasons, never seen in training")] = "2023-24",
    out: Annotated[Path, typer.Option(help="Where the parquet files go")] = Path("var/datasets"),
) -> None:
    """Build the training dataset from the stored game vectors: one parquet file per split,
    versioned by content hash, refused if any leakage check fails."""
    split = Split(
        tuple(parse_seasons(train)), tuple(parse_seasons(validate)), tuple(parse_seasons(test))
    )
    built = run(_build(load_settings(), split, out))
    for name, path in built.paths.items():
        typer.echo(f"{name}: {built.counts[name]} rows -> {path}")
    typer.echo(f"dataset version {built.version}")


class _Bar:
    """A training run drawn as a rich progress bar (one line per step in a log file)."""

    def __init__(self, bar: "Progress", total: int) -> None:
        self.bar, self.task = bar, bar.add_task("training", total=total, step="")

    def stat(self, stat: str) -> None:
        self.bar.update(self.task, description=f"training {stat}")

    def step(self, message: str) -> None:
        self.bar.update(self.task, step=message[:70])
        if not self.bar.console.is_terminal:  # no live bar in a log file: one line per step
            self.bar.console.print(message)

    def done(self, stat: str) -> None:  # noqa: ARG002 - the bar counts stats, names none
        self.bar.advance(self.task)


async def _register(
    settings: "TrainerSettings", trained: "TrainingRun", promote: bool
) -> "list[ModelPublished]":
    from statmuse_trainer.registry.publish import bundle_of, publish_bundles

    bundles = [
        bundle_of(f, trained.dataset_version, trained.report_files(f.stat)) for f in trained.fitted
    ]
    async with one_shot(settings) as rt:
        return await publish_bundles(rt, bundles, promote=promote)


def train(
    dataset: Annotated[
        Path | None, typer.Option(help="A dataset version directory; default: build one now")
    ] = None,
    stats: Annotated[
        Stats,
        typer.Option(
            parser=parse_stats,
            metavar="<str>",
            help="Comma-separated stats",
        ),
    ] = ALL_STATS,
    out: Annotated[Path, typer.Option(help="Reports go to OUT/<date>/")] = Path("reports/training"),
    register: Annotated[
        bool, typer.Option(help="Register the models and announce them on the models topic")
    ] = True,
    promote: Annotated[bool, typer.Option(help="Register as production, not staging")] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes and threads")] = 2,
    final: Annotated[
        bool,
        typer.Option(
            help="The production refit: train on every season of the dataset but the last, "
            "choose and calibrate on the last, hold nothing out"
        ),
    ] = False,
    line_weights_from: Annotated[
        Path | None,
        typer.Option(
            help="Give each bundle the line blend and market layer of <stat>.npz here "
            "(fitted where that model had not seen the games)"
        ),
    ] = None,
) -> None:
    """Train every stat's model (candidates, search, ensembles, per-player heads,
    calibration), write the report, and register the models."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from statmuse_trainer.training.dataset import DEFAULT_SPLIT
    from statmuse_trainer.training.run import load_dataset, run_training

    console = Console(stderr=True)
    settings = load_settings() if (register or dataset is None) else None
    if dataset is None:
        assert settings is not None
        built = run(_build(settings, DEFAULT_SPLIT, Path("var/datasets")))
        dataset = next(iter(built.paths.values())).parent
    loaded = load_dataset(dataset)
    if loaded is None:
        raise typer.BadParameter(f"no parquet files in {dataset}", param_hint="--dataset")
    version, df = loaded
    if final:
        from statmuse_trainer.training.run import final_frame

        try:
            df = final_frame(df)
        except ValueError as exc:
            fail(str(exc))
    if line_weights_from is not None and not any(line_weights_from.glob("*.npz")):
        fail(f"no bundles (*.npz) in {line_weights_from} to take line weights from")
    console.print(
        f"dataset {version}: {len(df)} rows"
        + (" (final: every season trains or validates)" if final else "")
    )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} stats"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[step]}"),
        console=console,
    ) as bar:
        trained = run_training(
            df,
            dataset_version=version,
            stats=stats,
            jobs=jobs,
            out=out,
            progress=_Bar(bar, len(stats)),
            carry_from=line_weights_from,
        )
    console.print(
        f"trained {len(trained.fitted)} stats in {trained.seconds:.0f}s; report: {trained.folder}"
    )
    for f in trained.fitted:
        v = f.validation
        typer.echo(
            f"{f.stat:9} {f.chosen:14} heads {f.heads_kept:3}/{f.heads_tried:<3} "
            f"MAE {v['mae']:.3f}  Brier {v['brier']:.4f}  ECE {v['ece_uncalibrated']:.4f}"
            f" -> {v['ece']:.4f}"
        )
    if register:
        assert settings is not None
        echo_events(run(_register(settings, trained, promote)))


# The options `fit-lines` and `fit-market` share.
Before = Annotated[
    str, typer.Option(help="Fit on real lines of game days before this date (YYYY-MM-DD)")
]
BundlesDir = Annotated[Path, typer.Option(help="Directory of <stat>.npz bundles")]
DatasetDir = Annotated[
    Path | None, typer.Option(help="Dataset version directory; default: the newest")
]
LinesDir = Annotated[Path, typer.Option("--lines", help="Real prop lines")]
OutDir = Annotated[
    Path | None, typer.Option(help="Where the bundles go; default: over the originals")
]


def _cutoff_and_dataset(before: str, dataset: Path | None) -> tuple["dt.date", Path]:
    import datetime as dt

    try:
        cutoff = dt.date.fromisoformat(before)
    except ValueError:
        fail(f"--before must be a date (YYYY-MM-DD), got {before!r}")
    found = dataset_dir(dataset)
    if found is None or not (found / "test.parquet").exists():
        fail("no dataset found; run `statmuse-trainer dataset` first")
    return cutoff, found


def fit_lines_command(
    before: Before,
    models: BundlesDir = Path("models"),
    dataset: DatasetDir = None,
    lines_dir: LinesDir = Path("data/nba/prop_lines"),
    out: OutDir = None,
) -> None:
    """Fit how far P(over) at a sportsbook line trusts the line against our mean (weight and
    offset per stat, maximum likelihood on real lines before --before) and write it into the
    bundles. The days used are recorded in each bundle: `evaluate` scores only later lines and
    `backtest` refuses a period that overlaps them."""
    from statmuse_shared.models.output import ModelInputError
    from statmuse_trainer.training.lineblend import LineFitError, describe, fit_lines
    from statmuse_trainer.training.served import InSampleError

    cutoff, dataset = _cutoff_and_dataset(before, dataset)
    try:
        results = fit_lines(
            models=models, dataset=dataset, lines_dir=lines_dir, before=cutoff, out=out or models
        )
    except (LineFitError, InSampleError, OSError, ModelInputError) as exc:
        fail(str(exc))
    for result in results:
        typer.echo(describe(result))
    if not any(r.fit for r in results):
        fail(f"no stat had enough real lines before {cutoff}")


def fit_market_command(
    before: Before,
    models: BundlesDir = Path("models"),
    dataset: DatasetDir = None,
    lines_dir: LinesDir = Path("data/nba/prop_lines"),
    out: OutDir = None,
    rounds: Annotated[int, typer.Option(min=100, help="Bootstrap rounds")] = 1000,
    write: Annotated[
        Path | None, typer.Option(help="Write the report (markdown) here, e.g. docs/MARKET.md")
    ] = None,
) -> None:
    """Fit the market layer (P(over) from the books' de-vigged price and the model's own, one
    logistic regression over every stat's props before --before), score it per stat on later
    props against the books and the line blend, and write it into the bundles of the stats
    where it beat the line blend. Prints (or writes) the report, edges by size included."""
    import os
    import shlex
    import sys

    from statmuse_shared.models.output import ModelInputError
    from statmuse_trainer.training.market import MarketFitError, figures, fit_market, report
    from statmuse_trainer.training.served import InSampleError

    cutoff, dataset = _cutoff_and_dataset(before, dataset)
    try:
        fit = fit_market(
            models=models,
            dataset=dataset,
            lines_dir=lines_dir,
            before=cutoff,
            out=out or models,
            rounds=rounds,
        )
    except (MarketFitError, InSampleError, OSError, ModelInputError) as exc:
        fail(str(exc))
    command = "statmuse fit-market " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    pictures = None
    if write is not None:
        # Beside the other reports' pictures, linked from the document relative to it.
        drawn = figures(fit, Path("reports/market"))
        pictures = tuple(
            os.path.relpath(p, write.parent.resolve()) for p in map(Path.resolve, drawn)
        )
    text = report(fit, command=command.strip(), pictures=pictures)  # type: ignore[arg-type]
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text)
        typer.echo(f"wrote {write}")
    else:
        typer.echo(text)
    if not any(s.served for s in fit.scores):
        typer.echo("the layer beat the line blend for no stat: no bundle serves it", err=True)
