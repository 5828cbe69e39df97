"""`monitor`, `schedule-run`: a day's monitoring by hand (monitoring/) and a scheduled job run
once as the service would (schedule.py)."""

from typing import TYPE_CHECKING, Annotated

import typer

from statmuse_trainer.cli.common import game_day, load_settings, one_shot, run
from statmuse_trainer.schedule import Job

if TYPE_CHECKING:
    import datetime as dt

    from statmuse_trainer.monitoring.jobs import DriftSummary
    from statmuse_trainer.monitoring.performance import DayMetrics
    from statmuse_trainer.settings import TrainerSettings


async def _monitor(
    settings: "TrainerSettings", day: "dt.date", publish: bool
) -> "tuple[list[DayMetrics], DriftSummary]":
    from statmuse_trainer.monitoring import jobs

    # A dry run (--no-publish) needs no broker.
    async with one_shot(settings, kafka=publish) as rt:
        return await jobs.monitor_day(rt, day, publish=publish)


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
    metrics_rows, summary = run(_monitor(load_settings(), game_day(date), publish))
    typer.echo(_metrics_table(metrics_rows))
    typer.echo("")
    typer.echo(_drift_text(summary))
    raise typer.Exit(1 if summary.drifted else 0)


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def _metrics_table(rows: "list[DayMetrics]") -> str:
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


def _drift_text(summary: "DriftSummary") -> str:
    lines = [
        f"drift on {summary.day}: reference {summary.reference or '-'} "
        f"({summary.reference_rows} rows), recent {summary.recent_rows} rows"
    ]
    top = sorted((f for f in summary.features if f.psi is not None), key=lambda f: -(f.psi or 0.0))[
        :5
    ]
    if top:
        lines.append("largest PSI: " + ", ".join(f"{f.name} {f.psi:.3f}" for f in top))
    for d in summary.decisions:
        state = "DRIFT" if d.fire else "ok"
        lines.append(f"  {d.stat.value:<9}{state:<6}{d.reason or f'{d.tested_features} features'}")
    for r in summary.published:
        lines.append(f"published TrainRequested {r.event_id} ({r.stat.value}, reason {r.reason})")
    return "\n".join(lines)


def parse_job(value: "str | Job") -> Job:
    try:
        return Job(value)
    except ValueError:
        raise _Invalid("job must be daily or weekly") from None


class _Invalid(typer.BadParameter):
    """A refused value reported without naming the parameter ("Invalid value: <why>"), as
    the command said before its argument had a type."""

    def format_message(self) -> str:
        return f"Invalid value: {self.message}"


async def _schedule_run(settings: "TrainerSettings", job: Job, day: "dt.date") -> bool:
    from statmuse_trainer.schedule import Jobs

    async with one_shot(settings) as rt:
        return await Jobs(rt).run(job, day)


def schedule_run(
    job: Annotated[Job, typer.Argument(parser=parse_job, help="daily or weekly")],
    date: Annotated[
        str | None, typer.Option("--date", help="Game day YYYY-MM-DD (default: yesterday)")
    ] = None,
) -> None:
    """Run a scheduled job once by hand, as the service would (same lock, same run record:
    a job already done for that day is skipped; exit code 1 then)."""
    ran = run(_schedule_run(load_settings(), job, game_day(date)))
    typer.echo(f"{job} job: {'ran' if ran else 'skipped (running elsewhere or already done)'}")
    raise typer.Exit(0 if ran else 1)
