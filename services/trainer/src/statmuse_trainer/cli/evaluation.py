"""`evaluate`, `backtest`: the served models on a held-out season (evaluation/) and betting
strategies walked forward over the real lines (backtest/)."""

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.backtest.run import Pricing
from statmuse_trainer.backtest.strategies import Staking
from statmuse_trainer.cli.common import dataset_dir, fail, latest

ALL_STATS = ",".join(stat.value for stat in Stat)


def evaluate(
    season: Annotated[str, typer.Option(help="The held-out season")] = "2023-24",
    dataset: Annotated[
        Path | None, typer.Option(help="Dataset version directory; default: the newest")
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option(help="Directory of <stat>.npz bundles; default: newest run, else models/"),
    ] = None,
    lines_dir: Annotated[Path, typer.Option("--lines", help="Real prop lines")] = Path(
        "data/nba/prop_lines"
    ),
    write: Annotated[Path | None, typer.Option(help="Also write the tables as markdown")] = None,
    rounds: Annotated[int, typer.Option(min=100, help="Bootstrap resamples")] = 1000,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Only the real lines on or after YYYY-MM-DD")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Only the real lines on or before YYYY-MM-DD")
    ] = None,
    walk_forward: Annotated[
        bool,
        typer.Option(
            "--walk-forward",
            help="Instead: train and score one fold per season of --seasons (fit on the "
            "seasons before it, choose on the last of those); writes its own section",
        ),
    ] = False,
    seasons: Annotated[
        str, typer.Option(help="--walk-forward: the seasons to score, comma-separated")
    ] = "2020-21,2021-22,2022-23,2023-24",
    stats: Annotated[
        str, typer.Option(help="--walk-forward: the stats, comma-separated")
    ] = ALL_STATS,
    jobs: Annotated[int, typer.Option(min=1, help="--walk-forward: worker processes")] = 2,
) -> None:
    """Our served models on a season they never saw: against season-average, last-10 and
    EWMA baselines (MAE, RMSE), and on the real lines against the books' de-vigged P(over)
    (Brier, log loss, ECE), each with a bootstrap 95% interval. With --walk-forward, the
    training protocol itself, season by season."""
    from statmuse_trainer.evaluation.report import run

    if walk_forward:
        _walk_forward(dataset, seasons, stats, jobs, rounds, write)
        return
    dataset = dataset_dir(dataset)
    # The newest training run's bundles, else the ones shipped in models/.
    models = (
        models
        or latest(Path("reports/training"), "*/models")
        or (Path("models") if any(Path("models").glob("*.npz")) else None)
    )
    if dataset is None or models is None:
        fail("no dataset or models found; run `statmuse train` first")
    try:
        window = (
            dt.date.fromisoformat(date_from) if date_from else dt.date.min,
            dt.date.fromisoformat(date_to) if date_to else dt.date.max,
        )
    except ValueError as exc:
        fail(str(exc))
    from statmuse_trainer.training.served import InSampleError

    pictures = Path("reports/evaluation") / season
    try:
        text = run(
            dataset=dataset,
            models=models,
            lines_dir=lines_dir,
            season=season,
            rounds=rounds,
            pictures=pictures,
            window=window,
        )
    except InSampleError as exc:
        fail(str(exc))
    typer.echo(f"reliability diagrams: {pictures}", err=True)
    typer.echo(text)
    if write is not None:
        _write_section(write, text, walk_forward=False)
        typer.echo(f"written to {write}", err=True)


WALK_FORWARD_MARK = "<!-- walk-forward: written by `statmuse evaluate --walk-forward` -->"


def _write_section(path: Path, text: str, *, walk_forward: bool) -> None:
    """The held-out report and the walk-forward section share one file: each run replaces
    its own part and keeps the other."""
    old = path.read_text() if path.exists() else ""
    report, _, section = old.partition(WALK_FORWARD_MARK)
    if walk_forward:
        section = "\n" + text
    else:
        report = text
    joined = report.rstrip("\n") + "\n\n" if report.strip() else ""
    if section.strip():
        joined += WALK_FORWARD_MARK + "\n" + section.lstrip("\n")
    path.write_text(joined)


def _walk_forward(
    dataset: Path | None, seasons: str, stats: str, jobs: int, rounds: int, write: Path | None
) -> None:
    import shlex
    import sys

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from statmuse_trainer.evaluation.walkforward import WalkForwardError, table, walk_forward
    from statmuse_trainer.training.run import load_dataset

    found = dataset_dir(dataset)
    loaded = None if found is None else load_dataset(found)
    if loaded is None:
        fail("no dataset found; run `statmuse-trainer dataset` first")
    version, df = loaded
    folds = [s.strip() for s in seasons.split(",") if s.strip()]
    wanted = [s.strip() for s in stats.split(",") if s.strip()]
    known = {s.value for s in Stat}
    if not folds or not wanted or set(wanted) - known:
        fail(f"--stats must name some of {sorted(known)}; --seasons at least one season")
    out = Path("var/walk-forward") / version
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("walk-forward", total=len(folds) * len(wanted))
        last = [""]

        def tick(message: str) -> None:
            if message.count(" ") == 1 and message.split()[0] in folds:  # "<season> <stat>"
                if last[0]:
                    bar.advance(task)
                last[0] = message
            bar.update(task, description=f"walk-forward {last[0]}: {message}"[:110])

        try:
            scores = walk_forward(
                df, stats=wanted, seasons=folds, jobs=jobs, rounds=rounds, models_out=out, tick=tick
            )
        except WalkForwardError as exc:
            fail(str(exc))
    command = "statmuse evaluate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    text = table(scores, command=command.strip())
    typer.echo(text)
    typer.echo(f"fold models: {out}", err=True)
    if write is not None:
        _write_section(write, text, walk_forward=True)
        typer.echo(f"written to {write}", err=True)


def replay_report(
    answers: Annotated[Path, typer.Option(help="answers.csv of `statmuse replay`")],
    slate: Annotated[Path, typer.Option(help="slate.csv of `statmuse replay`")],
    date_from: Annotated[str, typer.Option("--from", help="The replay's first day")],
    date_to: Annotated[str, typer.Option("--to", help="The replay's last day")],
    dataset: Annotated[
        Path | None, typer.Option(help="Dataset version directory; default: the newest")
    ] = None,
    models: Annotated[Path, typer.Option(help="The bundles the replay served")] = Path("models"),
    lines_dir: Annotated[Path, typer.Option("--lines", help="Real prop lines")] = Path(
        "data/nba/prop_lines"
    ),
    write: Annotated[Path | None, typer.Option(help="Also write the report here")] = None,
    command: Annotated[str, typer.Option(help="The command to name in the report")] = "",
    seconds: Annotated[float | None, typer.Option(help="How long the replay took")] = None,
) -> None:
    """Score a live replay's answers against the outcomes, the books and the offline
    evaluation of the same lines; exit 1 when a stat's Brier differs from evaluate's by more
    than 0.0005."""
    from statmuse_trainer.evaluation.replay import report

    found = dataset_dir(dataset)
    if found is None:
        fail("no dataset found; run `statmuse-trainer dataset` first")
    try:
        start, end = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    except ValueError as exc:
        fail(str(exc))
    text, agree = report(
        answers=answers,
        slate=slate,
        dataset=found,
        models=models,
        lines_dir=lines_dir,
        start=start,
        end=end,
        command=command or f"statmuse replay --from {start} --to {end}",
        seconds=seconds,
    )
    typer.echo(text)
    if write is not None:
        write.write_text(text)
        typer.echo(f"written to {write}", err=True)
    if not agree:
        raise typer.Exit(1)


def parse_pricing(value: str | Pricing) -> Pricing:
    try:
        return Pricing(value)
    except ValueError:
        raise typer.BadParameter("consensus, best or both", param_hint="--mode") from None


def parse_staking(value: str | Staking | None) -> Staking | None:
    if value is None:
        return None
    try:
        return Staking(value)
    except ValueError:
        raise typer.BadParameter("flat or kelly", param_hint="--staking") from None


@contextmanager
def _days_bar(total: int) -> Iterator[Callable[[dt.date], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]backtest"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("days", total=total)
        yield lambda _: bar.advance(task)


def backtest(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD)")] = "2024-03-16",
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD)")] = "2024-05-25",
    strategy: Annotated[
        str,
        typer.Option(
            help="Comma-separated: ev, confidence, high_confidence, underdog, kelly, flat"
        ),
    ] = "ev,confidence,high_confidence,underdog,kelly,flat",
    mode: Annotated[
        Pricing, typer.Option(parser=parse_pricing, help="consensus, best or both")
    ] = Pricing.BOTH,
    staking: Annotated[
        Staking | None,
        typer.Option(
            parser=parse_staking, help="flat or kelly for every strategy; default: each its own"
        ),
    ] = None,
    kelly_fraction: Annotated[float, typer.Option(min=0.01, max=1.0)] = 0.25,
    cap: Annotated[float, typer.Option(min=0.001, max=1.0, help="Kelly: most per bet")] = 0.02,
    unit: Annotated[
        float,
        typer.Option(
            min=0.001, max=1.0, help="Flat: stake per bet, as a share of the starting bankroll"
        ),
    ] = 0.01,
    bankroll: Annotated[float, typer.Option(min=1.0)] = 1000.0,
    max_exposure: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Most staked in a day (share of bankroll)")
    ] = 0.5,
    dataset: Annotated[
        Path | None, typer.Option(help="Dataset version directory; default: the newest")
    ] = None,
    models: Annotated[
        list[Path] | None,
        typer.Option(
            help="Model directories (repeatable): each day uses the newest trained "
            "before it; default: the shipped models/"
        ),
    ] = None,
    lines_dir: Annotated[Path, typer.Option("--lines", help="Real prop lines")] = Path(
        "data/nba/prop_lines"
    ),
    out: Annotated[Path, typer.Option(help="Reports go to OUT/<from>_<to>/")] = Path(
        "reports/backtest"
    ),
    write: Annotated[Path | None, typer.Option(help="Also write the report here")] = None,
    rounds: Annotated[int, typer.Option(min=100, help="Bootstrap resamples")] = 1000,
) -> None:
    """Walk forward day by day over real prop lines with the models trained before each day:
    bets per strategy at the consensus and the best price, settled against the box scores;
    writes the bets (CSV), the pictures and a report with bootstrap intervals."""
    import shlex
    import sys

    from rich.console import Console

    from statmuse_trainer.backtest.market import BacktestError
    from statmuse_trainer.backtest.run import run_backtest
    from statmuse_trainer.backtest.strategies import configured

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}", param_hint="--from/--to") from exc
    try:
        chosen = configured(
            [s.strip() for s in strategy.split(",") if s.strip()],
            staking=staking,
            unit=unit,
            kelly_multiplier=kelly_fraction,
            cap=cap,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--strategy") from exc
    found = dataset_dir(dataset)
    if found is None:
        fail(
            "no dataset found: build one with `statmuse-trainer dataset` on a stack that has "
            "ingested the seasons (see docs/BACKTEST.md)"
        )
    command = "statmuse backtest " + " ".join(
        shlex.quote(a) for a in sys.argv[1:] if a != "backtest"
    )
    try:
        done = run_backtest(
            dataset=found,
            lines_dir=lines_dir,
            model_dirs=models or [Path("models")],
            start=first,
            end=last,
            strategies=chosen,
            modes=mode.modes,
            bankroll=bankroll,
            max_exposure=max_exposure,
            out=out,
            rounds=rounds,
            command=command.strip(),
            write=write,
            days=_days_bar,
        )
    except BacktestError as exc:
        fail(str(exc))
    Console(stderr=True).print(f"report: {done.folder}")
    typer.echo(done.text)
    if write is not None:
        typer.echo(f"written to {write}", err=True)
