"""statmuse-trainer: serve, migrate, dataset, train, evaluate, promote, rollback."""

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from statmuse_shared.contract.seasons import parse_seasons
from statmuse_shared.platform.runtime import service_cli
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training.dataset import Split, check, frame, save

if TYPE_CHECKING:
    import pandas as pd


def _settings() -> TrainerSettings:
    return TrainerSettings()  # DATABASE_URL comes from the env


def _create_app(settings: TrainerSettings) -> object:
    from statmuse_trainer.app import create_app

    return create_app(settings)


app = service_cli(
    service="trainer", schema="registry", settings=_settings, create_app=_create_app, help=__doc__
)


@app.command()
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
    version, paths, counts = asyncio.run(_dataset(_settings(), split, out))
    for name, path in paths.items():
        typer.echo(f"{name}: {counts[name]} rows -> {path}")
    typer.echo(f"dataset version {version}")


async def _dataset(
    settings: TrainerSettings, split: Split, out: Path
) -> tuple[str, dict[str, Path], dict[str, int]]:
    import asyncpg

    from statmuse_shared.features import FEATURE_SET_VERSION
    from statmuse_trainer.adapters.postgres import dataset_rows

    conn = await asyncpg.connect(settings.dsn)
    try:
        seasons = [*split.train, *split.validation, *split.test]
        rows = await dataset_rows(
            conn=conn, feature_set_version=FEATURE_SET_VERSION, seasons=seasons
        )
    finally:
        await conn.close()
    df = frame(rows, split)
    check(df, split)
    version, paths = save(df, out)
    counts = {str(k): int(v) for k, v in df["split"].value_counts().items()}
    return version, paths, counts


def _load_dataset(directory: Path) -> tuple[str, "pd.DataFrame"]:
    import pandas as pd

    files = sorted(directory.glob("*.parquet"))
    if not files:
        raise typer.BadParameter(f"no parquet files in {directory}", param_hint="--dataset")
    return directory.name, pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _latest(parent: Path, pattern: str) -> Path | None:
    found = sorted(parent.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _dataset_dir(given: Path | None) -> Path | None:
    """A dataset version directory: the one given (or the directory of a given parquet file),
    else the newest under var/datasets."""
    dataset = given or _latest(Path("var/datasets"), "*/test.parquet")
    return dataset.parent if dataset is not None and dataset.suffix == ".parquet" else dataset


@app.command()
def train(
    dataset: Annotated[
        Path | None, typer.Option(help="A dataset version directory; default: build one now")
    ] = None,
    stats: Annotated[str, typer.Option(help="Comma-separated stats")] = "points,rebounds,"
    "assists,threes,pra",
    out: Annotated[Path, typer.Option(help="Reports go to OUT/<date>/")] = Path("reports/training"),
    register: Annotated[
        bool, typer.Option(help="Register the models and announce them on the models topic")
    ] = True,
    promote: Annotated[bool, typer.Option(help="Register as production, not staging")] = False,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes and threads")] = 2,
) -> None:
    """Train every stat's model (candidates, search, ensembles, per-player heads,
    calibration), write the report, and register the models."""
    import datetime as dt
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from statmuse_trainer.training import reports
    from statmuse_trainer.training.fitting import fit_stat
    from statmuse_trainer.training.stat_data import STATS

    console = Console(stderr=True)
    wanted = [s.strip() for s in stats.split(",") if s.strip()]
    unknown = set(wanted) - set(STATS)
    if unknown:
        raise typer.BadParameter(f"unknown stats {sorted(unknown)}", param_hint="--stats")
    settings = _settings() if (register or dataset is None) else None
    if dataset is None:
        assert settings is not None
        version, paths, _ = asyncio.run(_dataset(settings, _default_split(), Path("var/datasets")))
        dataset = next(iter(paths.values())).parent
    version, df = _load_dataset(dataset)
    console.print(f"dataset {version}: {len(df)} rows")
    started = time.perf_counter()
    fitted = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} stats"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[step]}"),
        console=console,
    ) as bar:
        task = bar.add_task("training", total=len(wanted), step="")

        def tick(message: str) -> None:
            bar.update(task, step=message[:70])
            if not console.is_terminal:  # no live bar in a log file: one line per step
                console.print(message)

        for stat in wanted:
            bar.update(task, description=f"training {stat}")
            fitted.append(fit_stat(df, stat, jobs=jobs, tick=tick))
            bar.advance(task)
    folder = out / dt.date.today().isoformat()
    reports.write(folder, fitted, dataset_version=version)
    console.print(
        f"trained {len(fitted)} stats in {time.perf_counter() - started:.0f}s; report: {folder}"
    )
    for f in fitted:
        v = f.validation
        typer.echo(
            f"{f.stat:9} {f.chosen:14} heads {f.heads_kept:3}/{f.heads_tried:<3} "
            f"MAE {v['mae']:.3f}  Brier {v['brier']:.4f}  ECE {v['ece_uncalibrated']:.4f}"
            f" -> {v['ece']:.4f}"
        )
    if register:
        assert settings is not None
        for e in asyncio.run(_register(settings, fitted, version, promote)):
            typer.echo(f"{e.version}: {e.alias}")


def _default_split() -> Split:
    return Split(tuple(parse_seasons("2017-18..2021-22")), ("2022-23",), ("2023-24",))


async def _register(
    settings: TrainerSettings, fitted: list[Any], version: str, promote: bool
) -> list[Any]:
    bundles = [(f.header, f.bundle, f.metadata(version)) for f in fitted]
    return await _publish_bundles(settings, bundles, promote=promote)


async def _publish_bundles(
    settings: TrainerSettings, bundles: list[tuple[Any, bytes, dict[str, Any]]], *, promote: bool
) -> list[Any]:
    """(header, bundle bytes, metadata) -> artifact store, registry, models topic."""
    from statmuse_shared.contract.messages import ModelMetrics
    from statmuse_shared.models.artifacts import open_store
    from statmuse_shared.platform.broker import make_broker
    from statmuse_shared.platform.db import create_pool
    from statmuse_trainer.training.on_request import register_and_publish

    pool = await create_pool(settings.dsn, max_size=2)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="trainer-registry")
    await broker.connect()
    store = open_store(settings.artifact_store_url)
    try:
        events = []
        for header, data, metadata in bundles:
            events.append(
                await register_and_publish(
                    pool=pool,
                    store=store,
                    broker=broker,
                    stat=header.stat,
                    name=header.name,
                    model_type="count_model",
                    data=data,
                    suffix="npz",
                    feature_set_version=header.feature_set_version,
                    dataset_version=metadata.get("dataset_version"),
                    metrics=ModelMetrics.model_validate(metadata.get("metrics", {})),
                    metadata=metadata,
                    promote=promote,
                )
            )
        return events
    finally:
        await broker.stop()
        await pool.close()


@app.command("import-model")
def import_model(
    bundles: Annotated[list[Path], typer.Argument(help="Model bundles (.npz) from a training run")],
    promote: Annotated[bool, typer.Option(help="Register as production, not staging")] = False,
) -> None:
    """Register model bundles trained elsewhere (e.g. the ones shipped in models/) and
    announce them, exactly as `train` does with its own."""
    from statmuse_shared.models.count import CountModel
    from statmuse_shared.models.output import ModelInputError

    loaded = []
    for path in bundles:
        try:
            model = CountModel.from_bytes(path.read_bytes())
        except (OSError, ModelInputError) as exc:
            typer.echo(f"error: {path}: {exc}", err=True)
            raise typer.Exit(2) from exc
        loaded.append((path, model))
    events = asyncio.run(_import(_settings(), loaded, promote))
    for e in events:
        typer.echo(f"{e.version}: {e.alias}")


async def _import(settings: TrainerSettings, loaded: list[Any], promote: bool) -> list[Any]:
    import json

    bundles = []
    for path, model in loaded:
        sidecar = path.with_suffix(".json")
        metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        bundles.append((model.header, path.read_bytes(), metadata))
    return await _publish_bundles(settings, bundles, promote=promote)


@app.command("fit-lines")
def fit_lines_command(
    before: Annotated[
        str, typer.Option(help="Fit on real lines of game days before this date (YYYY-MM-DD)")
    ],
    models: Annotated[Path, typer.Option(help="Directory of <stat>.npz bundles")] = Path("models"),
    dataset: Annotated[
        Path | None, typer.Option(help="Dataset version directory; default: the newest")
    ] = None,
    lines_dir: Annotated[Path, typer.Option("--lines", help="Real prop lines")] = Path(
        "data/nba/prop_lines"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Where the bundles go; default: over the originals")
    ] = None,
) -> None:
    """Fit how far P(over) at a sportsbook line trusts the line against our mean (weight and
    offset per stat, maximum likelihood on real lines before --before) and write it into the
    bundles. The days used are recorded in each bundle: `evaluate` scores only later lines and
    `backtest` refuses a period that overlaps them."""
    import datetime as dt

    from statmuse_shared.models.output import ModelInputError
    from statmuse_trainer.training.lineblend import LineFitError, describe, fit_lines

    try:
        cutoff = dt.date.fromisoformat(before)
    except ValueError:
        typer.echo(f"error: --before must be a date (YYYY-MM-DD), got {before!r}", err=True)
        raise typer.Exit(2) from None
    dataset = _dataset_dir(dataset)
    if dataset is None or not (dataset / "test.parquet").exists():
        typer.echo("error: no dataset found; run `statmuse-trainer dataset` first", err=True)
        raise typer.Exit(2)
    try:
        results = fit_lines(
            models=models, dataset=dataset, lines_dir=lines_dir, before=cutoff, out=out or models
        )
    except (LineFitError, OSError, ModelInputError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for result in results:
        typer.echo(describe(result))
    if not any(r.fit for r in results):
        typer.echo(f"error: no stat had enough real lines before {cutoff}", err=True)
        raise typer.Exit(2)


@app.command()
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
) -> None:
    """Our served models on a season they never saw: against season-average, last-10 and
    EWMA baselines (MAE, RMSE), and on the real lines against the books' de-vigged P(over)
    (Brier, log loss, ECE), each with a bootstrap 95% interval."""
    from statmuse_trainer.evaluation.report import run

    dataset = _dataset_dir(dataset)
    # The newest training run's bundles, else the ones shipped in models/.
    models = (
        models
        or _latest(Path("reports/training"), "*/models")
        or (Path("models") if any(Path("models").glob("*.npz")) else None)
    )
    if dataset is None or models is None:
        typer.echo("error: no dataset or models found; run `statmuse train` first", err=True)
        raise typer.Exit(2)
    pictures = Path("reports/evaluation") / season
    text = run(
        dataset=dataset,
        models=models,
        lines_dir=lines_dir,
        season=season,
        rounds=rounds,
        pictures=pictures,
    )
    typer.echo(f"reliability diagrams: {pictures}", err=True)
    typer.echo(text)
    if write is not None:
        write.write_text(text)
        typer.echo(f"written to {write}", err=True)


@app.command()
def backtest(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD)")] = "2024-03-16",
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD)")] = "2024-05-25",
    strategy: Annotated[
        str,
        typer.Option(
            help="Comma-separated: ev, confidence, high_confidence, underdog, kelly, flat"
        ),
    ] = "ev,confidence,high_confidence,underdog,kelly,flat",
    mode: Annotated[str, typer.Option(help="consensus, best or both")] = "both",
    staking: Annotated[
        str | None, typer.Option(help="flat or kelly for every strategy; default: each its own")
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
    import datetime as dt
    import shlex
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from statmuse_trainer.backtest import report
    from statmuse_trainer.backtest.engine import MODES, BacktestEngine, BacktestError, ModelSet
    from statmuse_trainer.backtest.strategies import Staking, configured
    from statmuse_trainer.lines import match_players, read_lines

    def fail(message: str) -> None:
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2)

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}", param_hint="--from/--to") from exc
    modes = [m for m in MODES if mode in (m, "both")]
    if not modes:
        raise typer.BadParameter("consensus, best or both", param_hint="--mode")
    kinds: dict[str | None, Staking | None] = {None: None, "flat": "flat", "kelly": "kelly"}
    if staking not in kinds:
        raise typer.BadParameter("flat or kelly", param_hint="--staking")
    try:
        chosen = configured(
            [s.strip() for s in strategy.split(",") if s.strip()],
            staking=kinds[staking],
            unit=unit,
            kelly_multiplier=kelly_fraction,
            cap=cap,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--strategy") from exc
    dataset = _dataset_dir(dataset)
    if dataset is None:
        fail(
            "no dataset found: build one with `statmuse-trainer dataset` on a stack that has "
            "ingested the seasons (see docs/BACKTEST.md)"
        )
    assert dataset is not None
    import pandas as pd

    console = Console(stderr=True)
    frames = [pd.read_parquet(f) for f in sorted(dataset.glob("*.parquet"))]
    if not frames:
        fail(f"no parquet files in {dataset}")
    features = pd.concat(frames, ignore_index=True)
    known = features.dropna(subset=["player_name"]).drop_duplicates("player_id")
    names = {str(n): int(p) for n, p in zip(known["player_name"], known["player_id"], strict=True)}
    matched, unmatched = match_players(read_lines(sorted(lines_dir.glob("*.csv.gz"))), names)
    try:
        sets = [ModelSet.load(m) for m in (models or [Path("models")])]
        engine = BacktestEngine(
            features=features,
            lines=matched,
            model_sets=sets,
            start=first,
            end=last,
            bankroll=bankroll,
            max_exposure=max_exposure,
        )
        days = sorted({x.game_date for _, x in engine.lines})
        with Progress(
            TextColumn("[bold]backtest"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} days"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("days", total=len(days))
            result = engine.run(chosen, modes, progress=lambda _: bar.advance(task))
    except BacktestError as exc:
        fail(str(exc))
    result.counts["lines_unmatched_names"] = len(unmatched)
    result.dataset = dataset.name
    folder = out / f"{first}_{last}"
    command = "statmuse backtest " + " ".join(
        shlex.quote(a) for a in sys.argv[1:] if a != "backtest"
    )
    text = report.write(folder, result, command=command.strip(), rounds=rounds)
    console.print(f"report: {folder}")
    typer.echo(text)
    if write is not None:
        rel = Path("..") / folder if not folder.is_absolute() else folder
        write.write_text(text.replace("](./", f"]({rel.as_posix()}/") + "\n")
        typer.echo(f"written to {write}", err=True)


@app.command()
def promote(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """Make the staged model of KEY production (the old one is archived)."""
    _move("promote", key)


@app.command()
def rollback(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """Put back the model that was production before the current one."""
    _move("rollback", key)


def _move(action: str, key: str) -> None:
    from statmuse_trainer.registry.moves import RegistryError

    try:
        events = asyncio.run(_registry(_settings(), action, key))
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for e in events:
        typer.echo(f"{e.version}: {e.alias}")


async def _registry(settings: TrainerSettings, action: str, key: str) -> list[Any]:
    from statmuse_shared.platform.broker import make_broker
    from statmuse_shared.platform.db import create_pool
    from statmuse_trainer.registry import moves as registry

    pool = await create_pool(settings.dsn, max_size=2)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="trainer-registry")
    await broker.connect()
    try:
        move = registry.promote if action == "promote" else registry.rollback
        return await move(pool=pool, broker=broker, key=key)
    finally:
        await broker.stop()
        await pool.close()


def main() -> None:
    app()


# --- monitoring (docs/MONITORING.md) --------------------------------------------------------


def _day(value: str | None) -> "Any":
    import datetime as dt

    from statmuse_trainer.schedule import yesterday

    return dt.date.fromisoformat(value) if value else yesterday(dt.datetime.now(dt.UTC))


@app.command()
def monitor(
    date: Annotated[
        str | None, typer.Option("--date", help="Game day YYYY-MM-DD (default: yesterday)")
    ] = None,
    publish: Annotated[
        bool, typer.Option(help="Publish TrainRequested on drift (cooldown respected)")
    ] = True,
) -> None:
    """Compute and store a day's monitoring metrics and run the drift check once; print the
    metrics table and the drift summary. Exit code 1 when any stat drifted, else 0."""
    metrics_rows, summary = asyncio.run(_monitor(_settings(), _day(date), publish))
    typer.echo(_metrics_table(metrics_rows))
    typer.echo("")
    typer.echo(_drift_text(summary))
    raise typer.Exit(1 if summary.drifted else 0)


async def _monitor(settings: TrainerSettings, day: "Any", publish: bool) -> tuple[Any, Any]:
    from statmuse_shared.platform.broker import make_broker
    from statmuse_shared.platform.db import create_pool
    from statmuse_trainer.monitoring import jobs

    pool = await create_pool(settings.dsn, max_size=2)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="trainer-monitor")
    if publish:
        await broker.connect()
    try:
        rows = await jobs.daily_metrics(pool=pool, day=day)
        summary = await jobs.check_drift(
            pool=pool, broker=broker if publish else None, day=day, settings=settings
        )
        return [m for m in rows if m.day == day], summary
    finally:
        if publish:
            await broker.stop()
        await pool.close()


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def _metrics_table(rows: list[Any]) -> str:
    head = (
        f"{'stat':<9}{'day':<12}{'preds':>6}{'bets':>6}{'hit':>7}{'brier':>7}{'ece':>7}"
        f"{'roi':>8}{'hit7d':>7}{'ece7d':>7}"
    )
    lines = [head]
    for m in rows:
        lines.append(
            f"{m.stat.value:<9}{m.day.isoformat():<12}{m.predictions:>6}{m.bets:>6}"
            f"{_fmt(m.hit_rate):>7}{_fmt(m.brier):>7}{_fmt(m.ece):>7}"
            f"{_fmt(m.roi, '{:+.3f}'):>8}{_fmt(m.hit_rate_7d):>7}{_fmt(m.ece_7d):>7}"
        )
    return "\n".join(lines)


def _drift_text(summary: Any) -> str:
    lines = [
        f"drift on {summary.day}: reference {summary.reference or '-'} "
        f"({summary.reference_rows} rows), recent {summary.recent_rows} rows"
    ]
    top = sorted((f for f in summary.features if f.psi is not None), key=lambda f: -f.psi)[:5]
    if top:
        lines.append("largest PSI: " + ", ".join(f"{f.name} {f.psi:.3f}" for f in top))
    for d in summary.decisions:
        state = "DRIFT" if d.fire else "ok"
        lines.append(f"  {d.stat.value:<9}{state:<6}{d.reason or f'{d.tested_features} features'}")
    for r in summary.published:
        lines.append(f"published TrainRequested {r.event_id} ({r.stat.value}, reason {r.reason})")
    return "\n".join(lines)


@app.command("schedule-run")
def schedule_run(
    job: Annotated[str, typer.Argument(help="daily or weekly")],
    date: Annotated[
        str | None, typer.Option("--date", help="Game day YYYY-MM-DD (default: yesterday)")
    ] = None,
) -> None:
    """Run a scheduled job once by hand, as the service would (same lock, same run record:
    a job already done for that day is skipped; exit code 1 then)."""
    if job not in ("daily", "weekly"):
        raise typer.BadParameter("job must be daily or weekly")
    ran = asyncio.run(_schedule_run(_settings(), job, _day(date)))
    typer.echo(f"{job} job: {'ran' if ran else 'skipped (running elsewhere or already done)'}")
    raise typer.Exit(0 if ran else 1)


async def _schedule_run(settings: TrainerSettings, job: str, day: "Any") -> bool:
    from statmuse_shared.platform.broker import make_broker
    from statmuse_shared.platform.db import create_pool
    from statmuse_trainer.schedule import Jobs

    pool = await create_pool(settings.dsn, max_size=3)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="trainer-schedule")
    await broker.connect()
    try:
        return await Jobs(pool=pool, broker=broker, settings=settings).run(job, day)
    finally:
        await broker.stop()
        await pool.close()
