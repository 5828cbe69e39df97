"""statmuse: run StatMusePicks on this machine.

statmuse up        start PostgreSQL, Redis, the broker and the five services
statmuse status    what is running, where
statmuse down      stop exactly what `up` started
statmuse migrate   apply every service's schema migrations
statmuse demo      up (if needed), load a real season, train, and show a prediction
statmuse replay    run the live path day by day over bundled days, and score it
statmuse ingest …  the ingestor's commands (backfill, status) against the running stack
statmuse apikey …  create, list and revoke the gateway's API keys
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from statmuse_ops import stack as stack_mod
from statmuse_ops.infra import InfraError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)
console = Console()
err = Console(stderr=True)

RunDir = Annotated[
    Path | None,
    typer.Option(
        help="Where state, logs and data live (default: $STATMUSE_RUN_DIR or ./var/stack)"
    ),
]


def _say(message: str) -> None:
    err.print(f"[dim]·[/] {message}")


def _run_dir(value: Path | None) -> Path:
    return value.resolve() if value else stack_mod.default_run_dir()


def _print_stack(stack: stack_mod.Stack) -> None:
    table = Table(title="StatMusePicks local stack")
    table.add_column("component")
    table.add_column("pid", justify="right")
    table.add_column("address", overflow="fold")
    table.add_column("state")
    table.add_column("consumer lag (records not read yet)", overflow="fold")
    for row in stack_mod.status(stack):
        colour = "green" if row["state"] in ("up", "ready") else "red"
        lag = "\n".join(f"{where}: {count:,.0f}" for where, count in row["lag"].items())
        table.add_row(row["name"], str(row["pid"]), row["url"], f"[{colour}]{row['state']}[/]", lag)
    console.print(table)
    for key in (
        "DATABASE_URL",
        "REDIS_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "ARTIFACT_STORE_URL",
        "MLFLOW_TRACKING_URI",
    ):
        console.print(f"{key}={stack.env.get(key, '')}", soft_wrap=True)
    console.print(f"logs: {stack.run_dir / 'logs'}", soft_wrap=True)


@app.command()
def up(run_dir: RunDir = None) -> None:
    """Start the whole system (infrastructure only where its URL is not set)."""
    started_at = time.perf_counter()
    try:
        stack = stack_mod.up(_run_dir(run_dir), environ=os.environ, say=_say)
    except InfraError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    _print_stack(stack)
    err.print(f"up in {time.perf_counter() - started_at:.1f}s")


@app.command()
def down(run_dir: RunDir = None) -> None:
    """Stop what `statmuse up` started, and nothing else."""
    stack = stack_mod.Stack.load(_run_dir(run_dir))
    if stack is None:
        err.print("nothing to stop (no stack.json)")
        return
    stack_mod.down(stack, say=_say)


@app.command()
def status(run_dir: RunDir = None) -> None:
    """Show every component and whether it is up; exit 1 if any is down."""
    stack = stack_mod.Stack.load(_run_dir(run_dir))
    if stack is None:
        err.print("no stack is running (no stack.json); start one with `statmuse up`")
        raise typer.Exit(1)
    _print_stack(stack)
    if any(r["state"] not in ("up", "ready") for r in stack_mod.status(stack)):
        raise typer.Exit(1)


@app.command()
def migrate(run_dir: RunDir = None) -> None:
    """Apply every installed service's migrations (DATABASE_URL, or the running stack's)."""
    from statmuse_shared.platform.migrations import migrate as run

    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        stack = stack_mod.Stack.load(_run_dir(run_dir))
        dsn = stack.env.get("DATABASE_URL") if stack else None
    if not dsn:
        err.print("[red]error:[/] set DATABASE_URL or start the stack with `statmuse up`")
        raise typer.Exit(2)
    applied = asyncio.run(run(dsn))
    for m in applied:
        console.print(f"applied {m.schema} {m.version:04d}_{m.name}")
    console.print(f"{len(applied)} migration(s) applied")


def _running_stack(folder: Path) -> stack_mod.Stack:
    """The stack recorded in `folder` when all of it runs, else a fresh one (exit 1 when it
    cannot start)."""
    stack = stack_mod.Stack.load(folder)
    if stack is not None and all(s.is_running() for s in stack.started):
        return stack
    if stack is not None:
        stack_mod.down(stack, say=_say)
    try:
        return stack_mod.up(folder, environ=os.environ, say=_say)
    except InfraError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def demo(
    run_dir: RunDir = None,
    season: Annotated[str, typer.Option(help="Bundled season to load")] = "2023-24",
    data_dir: Annotated[Path, typer.Option(help="Bundled data")] = Path("data/nba"),
    models_dir: Annotated[
        Path, typer.Option(help="Shipped model bundles (see models/README.md)")
    ] = Path("models"),
    baseline: Annotated[
        bool, typer.Option(help="Serve the naive last-10 baseline instead of the shipped models")
    ] = False,
    tonight: Annotated[
        str,
        typer.Option(
            help="End on this day's slate (YYYY-MM-DD): the data up to the day before, that "
            "day's schedule and lines; 'auto': 2024-04-12 on 2023-24 (the season with lines); "
            "'none': load the whole season"
        ),
    ] = "auto",
) -> None:
    """Start the stack if needed, run a real season through it, and show a prediction (on
    2023-24: ending on a replayed day, with its slate of priced props)."""
    import datetime as dt

    from statmuse_ops import demo as demo_mod

    started_at = time.perf_counter()
    stack = _running_stack(_run_dir(run_dir))
    _print_stack(stack)
    day = None
    if tonight == "auto":
        day = dt.date(2024, 4, 12) if season == "2023-24" and not baseline else None
    elif tonight != "none":
        try:
            day = dt.date.fromisoformat(tonight)
        except ValueError as exc:
            err.print(f"[red]error:[/] --tonight: {exc}")
            raise typer.Exit(2) from exc
    try:
        if day is not None:
            result = demo_mod.run_tonight(
                stack,
                data_dir=data_dir.resolve(),
                season=season,
                say=_say,
                models_dir=models_dir.resolve(),
                tonight=day,
                console=err,
            )
        else:
            result = demo_mod.run(
                stack,
                data_dir=data_dir.resolve(),
                season=season,
                say=_say,
                models_dir=None if baseline else models_dir.resolve(),
                console=err,
            )
    except (demo_mod.DemoError, InfraError) as exc:
        err.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print_json(
        json.dumps(
            {
                k: result["response"][k]
                for k in (
                    "player",
                    "stat",
                    "line",
                    "as_of",
                    "predicted_value",
                    "over_probability",
                    "under_probability",
                    "push_probability",
                    "recommendation",
                    "expected_value",
                    "model_version",
                )
            }
        )
    )
    if "tonight" in result:
        _print_slate(result["tonight"], result["slate"], result["gateway"])
    console.print(f"\nDemo ready in {time.perf_counter() - started_at:.0f}s. Try:\n")
    # Plain print: the command must stay copy-paste exact (no wrapping or markup).
    print(demo_mod.sample_curl(result["gateway"], result["request"]))
    print(f"\nAPI docs: {result['gateway']}/docs    stop everything: statmuse down")


@app.command()
def replay(
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD")],
    run_dir: RunDir = None,
    data_dir: Annotated[Path, typer.Option(help="Bundled data")] = Path("data/nba"),
    models_dir: Annotated[
        Path,
        typer.Option(
            help="Model bundles to serve; the default never saw 2023-24, the replayed season "
            "(models/ holds the production refit, which did)"
        ),
    ] = Path("models/holdout-2023-24"),
    out: Annotated[
        Path | None, typer.Option(help="The answers and slates (default reports/replay/…)")
    ] = None,
    write: Annotated[
        Path | None, typer.Option(help="Write the report here (e.g. docs/LIVE_REPLAY.md)")
    ] = None,
    report: Annotated[bool, typer.Option(help="Score the answers when done")] = True,
    prepare: Annotated[
        bool,
        typer.Option(
            help="Load the data up to the day before and serve the models first; --no-prepare "
            "resumes on a stack that already has them (a replay stopped after loading)"
        ),
    ] = True,
    history: Annotated[
        str | None,
        typer.Option(
            help="Also load the seasons from this one on before the first day (e.g. 2017-18: "
            "the career features then see what a deployed system would)"
        ),
    ] = None,
) -> None:
    """The live path day by day on the local stack (started if needed): each morning the
    day's schedule, availability and lines, every line asked of the gateway, the slate read;
    each night the day's box scores. Then the answers are scored against the outcomes, the
    books, and `statmuse evaluate` on the same lines."""
    import datetime as dt

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from statmuse_ops import replay as replay_mod
    from statmuse_shared.contract.seasons import season_of

    try:
        start, end = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if end < start:
        err.print(f"[red]error:[/] --to {end} is before --from {start}")
        raise typer.Exit(2)
    season = season_of(start)
    if season_of(end) != season:
        err.print(f"[red]error:[/] {start} and {end} are in different seasons")
        raise typer.Exit(2)
    out = (out or Path("reports/replay") / f"{start}_{end}").resolve()
    started_at = time.perf_counter()
    stack = _running_stack(_run_dir(run_dir))
    props = replay_mod.posted_props(data_dir.resolve(), start, end)
    answers: list[dict[str, object]] = []
    slates: list[dict[str, object]] = []
    try:
        run = replay_mod.Replay(
            stack, data_dir=data_dir.resolve(), season=season, out=out, say=_say
        )
        run.console = err  # bars while the stack catches up; the days draw their own below
        if prepare:
            run.prepare(start, models_dir.resolve(), history=history)
        else:
            run.resume()
        run.console = None
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("replaying", total=(end - start).days + 1)
            for day in replay_mod.days(start, end):
                bar.update(task, description=f"{day}: {len(props.get(day, ()))} props")
                asked, slate = run.run_day(day, props.get(day, set()))
                answers += asked
                slates += slate
                bar.advance(task)
    except (replay_mod.ReplayError, InfraError) as exc:
        err.print(f"[red]replay failed:[/] {exc}")
        raise typer.Exit(1) from exc
    replay_mod.write_csv(out / "answers.csv", replay_mod.ANSWER_FIELDS, answers)
    replay_mod.write_csv(out / "slate.csv", replay_mod.SLATE_FIELDS, slates)
    p = run.progress
    console.print(
        f"{p.days} days: {p.answered} of {p.asked} props answered, {p.slate} priced props on "
        f"the slates, in {time.perf_counter() - started_at:.0f}s -> {out}"
    )
    for reason, count in sorted(p.failed.items(), key=lambda kv: -kv[1]):
        console.print(f"  not answered {count}: {reason}")
    console.print("time per step: " + ", ".join(f"{k} {v:.0f}s" for k, v in p.seconds.items()))
    if not report:
        return
    # The dataset (every season's game vectors: large) stays with the stack's state.
    dataset = replay_mod.build_dataset(stack, stack.run_dir / "datasets")
    code = replay_mod.report(
        stack,
        answers=out / "answers.csv",
        slate=out / "slate.csv",
        dataset=dataset,
        models=models_dir.resolve(),
        lines=data_dir.resolve() / "prop_lines",
        start=start,
        end=end,
        write=write,
        seconds=time.perf_counter() - started_at,
        say=typer.echo,
    )
    raise typer.Exit(code)


def _print_slate(day: object, slate: list[dict[str, object]], gateway: str) -> None:
    """The replayed day's slate: its size and the largest edges, as a table."""
    calls = [p for p in slate if p.get("recommendation") in ("OVER", "UNDER")]
    console.print(
        f"\nTonight ({day}): {len(slate)} posted props priced, {len(calls)} with a call at the "
        "best price that is not an outlier. The largest edges:"
    )
    table = Table("player", "stat", "line", "ours", "books", "edge", "best price", "call")
    top = sorted(
        (p for p in slate if p.get("edge") is not None),
        key=lambda p: -abs(float(str(p["edge"]))),
    )[:8]
    for p in top:
        table.add_row(
            str(p["player"]),
            str(p["stat"]),
            str(p["line"]),
            f"{100 * float(str(p['over_probability'])):.1f}%",
            f"{100 * float(str(p['books_over_probability'])):.1f}%",
            f"{100 * float(str(p['edge'])):+.1f} pts",
            f"{p['best_side']} {p['best_price']} {p['best_book']}",
            str(p["recommendation"]),
        )
    console.print(table)
    print(f"The whole slate: {gateway}/dashboard/tonight  (API: {gateway}/api/slate)")


_PASS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _passthrough(exe_name: str, args: list[str], run_dir: Path | None) -> None:
    stack = stack_mod.Stack.load(_run_dir(run_dir))
    env = stack_mod.stack_env(stack) if stack else dict(os.environ)
    exe = Path(sys.executable).with_name(exe_name)
    raise typer.Exit(subprocess.run([str(exe), *args], env=env, check=False).returncode)


@app.command(context_settings=_PASS)
def ingest(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-ingestor …` against the running stack (e.g. `statmuse ingest backfill
    --seasons 2017-18..2023-24`)."""
    _passthrough("statmuse-ingestor", ctx.args, run_dir)


@app.command(context_settings=_PASS)
def train(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-trainer train …` against the running stack: every stat's model, the
    report in reports/training/<date>/, and the models registered (`--help` for options)."""
    _passthrough("statmuse-trainer", ["train", *ctx.args], run_dir)


@app.command(context_settings=_PASS)
def evaluate(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-trainer evaluate …`: the models on a held-out season against the
    baselines and the books (e.g. `statmuse evaluate --season 2023-24`)."""
    _passthrough("statmuse-trainer", ["evaluate", *ctx.args], run_dir)


@app.command("fit-lines", context_settings=_PASS)
def fit_lines(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-trainer fit-lines …`: how far P(over) at a book's line trusts the line,
    fitted on earlier real lines (e.g. `statmuse fit-lines --before 2024-03-16`)."""
    _passthrough("statmuse-trainer", ["fit-lines", *ctx.args], run_dir)


@app.command("fit-market", context_settings=_PASS)
def fit_market(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-trainer fit-market …`: P(over) from the books' price and the model's,
    fitted on earlier real lines (e.g. `statmuse fit-market --before 2024-03-16`)."""
    _passthrough("statmuse-trainer", ["fit-market", *ctx.args], run_dir)


@app.command(context_settings=_PASS)
def backtest(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-trainer backtest …`: strategies walked forward over the real prop lines
    (e.g. `statmuse backtest --from 2024-03-16 --to 2024-05-25 --strategy ev,kelly`)."""
    _passthrough("statmuse-trainer", ["backtest", *ctx.args], run_dir)


@app.command(context_settings=_PASS)
def apikey(ctx: typer.Context, run_dir: RunDir = None) -> None:
    """Run `statmuse-gateway apikey …` against the running stack's database (`create --name
    NAME --scope write` prints the key once; `list`; `revoke ID`)."""
    _passthrough("statmuse-gateway", ["apikey", *ctx.args], run_dir)


def main() -> None:
    app()
