"""statmuse: run StatMusePicks on this machine.

statmuse up        start PostgreSQL, Redis, the broker and the five services
statmuse status    what is running, where
statmuse down      stop exactly what `up` started
statmuse migrate   apply every service's schema migrations
statmuse demo      up (if needed), load a real season, train, and show a prediction
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
    for row in stack_mod.status(stack):
        colour = "green" if row["state"] in ("up", "ready") else "red"
        table.add_row(row["name"], str(row["pid"]), row["url"], f"[{colour}]{row['state']}[/]")
    console.print(table)
    for key in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "ARTIFACT_STORE_URL"):
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
) -> None:
    """Start the stack if needed, run a real season through it, and show a prediction."""
    from statmuse_ops import demo as demo_mod

    started_at = time.perf_counter()
    folder = _run_dir(run_dir)
    stack = stack_mod.Stack.load(folder)
    if stack is None or not all(s.is_running() for s in stack.started):
        if stack is not None:
            stack_mod.down(stack, say=_say)
        try:
            stack = stack_mod.up(folder, environ=os.environ, say=_say)
        except InfraError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
    _print_stack(stack)
    try:
        result = demo_mod.run(
            stack,
            data_dir=data_dir.resolve(),
            season=season,
            say=_say,
            models_dir=None if baseline else models_dir.resolve(),
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
    console.print(f"\nDemo ready in {time.perf_counter() - started_at:.0f}s. Try:\n")
    # Plain print: the command must stay copy-paste exact (no wrapping or markup).
    print(demo_mod.sample_curl(result["gateway"], result["request"]))
    print(f"\nAPI docs: {result['gateway']}/docs    stop everything: statmuse down")


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
