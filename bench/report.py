"""The benchmarks' figures in a form a program can read, and docs/BENCHMARKS.md made from them.

The convention: besides its lines for people, a bench script prints one line per figure,

    RESULT {"id": "ingest.rows_per_s", "what": ..., "value": 5568.0, "unit": "rows/s", ...}

(`emit`, the fields of `Result`). `run_all.py` runs the scripts, collects those lines
(`parse_results`), reads bench/gateway.py's text lines, which predate the convention
(`parse_gateway`), and fills the template's placeholders (`render`):

    {{header}}   date, machine, command
    {{table}}    one row per figure: goal, measured, met or not, the baseline and the ratio

Everything else in the template (the explanations written by hand) is copied as it is.
"""

import dataclasses
import datetime as dt
import json
import math
import os
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIX = "RESULT "
OPS = {">=": "≥", "<=": "≤", "==": "="}


@dataclass(frozen=True)
class Result:
    """One figure of one benchmark, as a row of the table."""

    id: str  # stable key, "<bench>.<figure>"
    what: str  # what was measured, as the row says it
    value: float  # the figure the goal is about, in `unit`
    unit: str
    measured: str  # the figure as people read it, with its context (p50 beside p95 ...)
    op: str = ""  # ">=", "<=" or "==" against `target`; "" when the figure has no goal
    target: float | None = None
    goal: str = ""  # the goal as people read it; default: op, target and unit
    baseline: str = ""  # what the baseline is, and its figure (measured in the same run)
    ratio: float | None = None  # this figure against the baseline's (see `ratio_of`)
    ratio_of: str = ""  # what the ratio says, e.g. "faster" or "of /health's rate"
    command: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; None when there is no goal."""
        if not self.op or self.target is None:
            return None
        if self.op == ">=":
            return self.value >= self.target
        if self.op == "<=":
            return self.value <= self.target
        if self.op == "==":
            return math.isclose(self.value, self.target)
        raise ValueError(f"{self.id}: unknown comparison {self.op!r}")

    def goal_text(self) -> str:
        if self.goal:
            return self.goal
        if not self.op or self.target is None:
            return ""
        return f"{OPS[self.op]} {number(self.target)} {self.unit}".strip()


def number(value: float) -> str:
    """1,486 / 56.7 / 3.02 / 0.12: thousands separated, about three significant digits."""
    size = abs(value)
    if size >= 100 or value == int(value):
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def ratio_text(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:,.0f}×"
    if ratio >= 1:
        return f"{ratio:.1f}×"
    return f"{ratio:.2f}×"


def emit(result: Result) -> None:
    """Print a figure for `run_all.py` (one line, after the lines for people)."""
    print(PREFIX + json.dumps(dataclasses.asdict(result), ensure_ascii=False), flush=True)


def parse_results(text: str) -> list[Result]:
    """The `RESULT {...}` lines of a script's output. Unknown fields are ignored (a newer
    script may say more); a line that is not valid JSON, or lacks a field, raises."""
    known = {f.name for f in dataclasses.fields(Result)}
    found = []
    for line in text.splitlines():
        if not line.startswith(PREFIX):
            continue
        raw = json.loads(line[len(PREFIX) :])
        found.append(Result(**{k: v for k, v in raw.items() if k in known}))
    return found


# --- bench/gateway.py's text lines ----------------------------------------------------------

GATEWAY_COMMAND = (
    "`GATEWAY_RATE_LIMIT_PER_MINUTE=1000000 statmuse demo`, then `uv run python bench/gateway.py`"
)
_RUN = re.compile(
    r"^(?P<name>[^\n]+?): n=(?P<n>\d+) p50 (?P<p50>[\d.]+) ms, p95 (?P<p95>[\d.]+) ms, "
    r"p99 (?P<p99>[\d.]+) ms, (?P<rate>[\d,.]+) requests/s, (?P<failed>\d+) failed",
    re.MULTILINE,
)


@dataclass(frozen=True)
class GatewayRun:
    name: str
    n: int
    p50: float  # ms
    p95: float
    p99: float
    rate: float  # requests/s
    failed: int

    def latencies(self) -> str:
        return f"p50 {number(self.p50)} ms, p95 {number(self.p95)} ms, p99 {number(self.p99)} ms"

    def failures(self) -> str:
        return f"{self.failed} failed of {self.n:,}"


def gateway_runs(text: str) -> list[GatewayRun]:
    return [
        GatewayRun(
            name=m["name"].strip(),
            n=int(m["n"]),
            p50=float(m["p50"]),
            p95=float(m["p95"]),
            p99=float(m["p99"]),
            rate=float(m["rate"].replace(",", "")),
            failed=int(m["failed"]),
        )
        for m in _RUN.finditer(text)
    ]


def _find(runs: Sequence[GatewayRun], *words: str) -> GatewayRun | None:
    """The run whose name has every word (names may be reworded; the words are stable)."""
    return next((r for r in runs if all(w in r.name for w in words)), None)


def parse_gateway(text: str) -> list[Result]:
    """Results from bench/gateway.py's lines `<name>: n=… p50 … ms, p95 … ms, p99 … ms,
    … requests/s, … failed`. A run whose line is missing gives no row."""
    runs = gateway_runs(text)
    uncached = _find(runs, "predict", "uncached", "200/s")
    known_paced = _find(runs, "predict", "outputs known", "500/s")
    known_flat = _find(runs, "predict", "outputs known", "connections")
    cached = _find(runs, "predict", "warm cache")
    health = _find(runs, "/health")
    batch = _find(runs, "batch", "uncached")
    batch_cached = _find(runs, "batch", "cached", "connections")
    found = []
    if uncached is not None:
        found.append(
            Result(
                id="gateway.predict_uncached",
                what="gateway `/api/predict`, uncached (every body distinct), paced at 200 "
                "requests/s, on the demo stack",
                value=uncached.p95,
                unit="ms",
                op="<=",
                target=10.0,
                goal="p95 ≤ 10 ms at 200/s",
                measured=f"{uncached.latencies()}, {uncached.failures()}",
                baseline="" if cached is None else f"warm cache: p95 {number(cached.p95)} ms",
                ratio=None if cached is None else uncached.p95 / cached.p95,
                ratio_of="the warm cache's p95",
                command=GATEWAY_COMMAND,
            )
        )
    if known_paced is not None:
        found.append(
            Result(
                id="gateway.predict_uncached_known_paced",
                what="gateway `/api/predict`, uncached (every body new), model outputs known "
                "(the same players, stats and lines as above), paced at 500 requests/s",
                value=known_paced.p95,
                unit="ms",
                op="<=",
                target=5.0,
                goal="p95 ≤ 5 ms at 500/s",
                measured=f"{known_paced.latencies()}, {known_paced.failures()}",
                baseline=""
                if uncached is None
                else f"outputs new, at 200/s: p95 {number(uncached.p95)} ms",
                ratio=None if uncached is None else known_paced.p95 / uncached.p95,
                ratio_of="the first-time p95",
                command="same",
            )
        )
    if known_flat is not None:
        found.append(
            Result(
                id="gateway.predict_uncached_known_rate",
                what="gateway `/api/predict`, uncached (every body new), model outputs known, "
                "16 connections",
                value=known_flat.rate,
                unit="requests/s",
                op=">=",
                target=1500.0,
                measured=f"{number(known_flat.rate)} requests/s ({known_flat.latencies()}, "
                f"{known_flat.failures()})",
                baseline=""
                if cached is None
                else f"warm cache on the same connections: {number(cached.rate)} requests/s",
                ratio=None if cached is None else known_flat.rate / cached.rate,
                ratio_of="the warm cache's rate",
                command="same",
            )
        )
    if cached is not None:
        found.append(
            Result(
                id="gateway.predict_cached",
                what="gateway `/api/predict`, warm cache, 16 connections",
                value=cached.rate,
                unit="requests/s",
                op=">=",
                target=3000.0,
                measured=f"{number(cached.rate)} requests/s ({cached.latencies()}, "
                f"{cached.failures()})",
                baseline=""
                if health is None
                else f"`/health` on the same connections: {number(health.rate)} requests/s",
                ratio=None if health is None else cached.rate / health.rate,
                ratio_of="`/health`'s rate",
                command="same",
            )
        )
    if batch is not None:
        found.append(
            Result(
                id="gateway.batch_uncached",
                what="gateway `/api/batch_predict`, 50 items, uncached, one batch at a time",
                value=batch.p95,
                unit="ms",
                op="<=",
                target=100.0,
                goal="p95 ≤ 100 ms",
                measured=f"{batch.latencies()}, {batch.failures()}",
                baseline=""
                if batch_cached is None
                else f"the same batch cached, 4 connections: p50 {number(batch_cached.p50)} ms, "
                f"p95 {number(batch_cached.p95)} ms",
                ratio=None if batch_cached is None else batch.p50 / batch_cached.p50,
                ratio_of="the cached batch's p50",
                command="same",
            )
        )
    return found


# --- the document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gib: float
    python: str
    system: str
    load: tuple[float, float, float]  # load average when the run started

    @classmethod
    def here(cls) -> "Machine":
        memory = 0.0
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) / 2**20
        except OSError:
            pass
        try:
            load = os.getloadavg()
        except OSError:
            load = (0.0, 0.0, 0.0)
        return cls(
            cores=os.cpu_count() or 1,
            memory_gib=memory,
            python=platform.python_version(),
            system=f"{platform.system()} {platform.machine()}",
            load=load,
        )

    def describe(self) -> str:
        return (
            f"{self.cores} cores, {self.memory_gib:.0f} GiB, {self.system}, Python "
            f"{self.python}; load average {self.load[0]:.2f} when the run started"
        )


@dataclass(frozen=True)
class Outcome:
    """What one bench script gave in a run."""

    bench: str  # "ingest", "pipeline", ...
    results: list[Result]
    status: str = "ok"  # "ok", or why no figures: "skipped: …", "failed (exit 1): …"
    seconds: float = 0.0
    load: float | None = None  # the machine's 1-minute load average when the bench started


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(outcomes: Iterable[Outcome]) -> str:
    rows = [
        "| what | goal | measured | goal met | baseline in the same run | ratio | command |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for outcome in outcomes:
        if outcome.status != "ok" or not outcome.results:
            why = outcome.status if outcome.status != "ok" else "no figures printed"
            rows.append(
                f"| {outcome.bench} | | **not measured**: {_cell(why)} "
                f"| | | | `uv run python bench/{outcome.bench}.py` |"
            )
            continue
        for r in outcome.results:
            met = {True: "met", False: "**not met**", None: ""}[r.met]
            ratio = f"{ratio_text(r.ratio)} {r.ratio_of}".strip() if r.ratio is not None else ""
            rows.append(
                f"| {_cell(r.what)} | {_cell(r.goal_text())} | **{_cell(r.measured)}** | {met} "
                f"| {_cell(r.baseline)} | {_cell(ratio)} | {_cell(r.command)} |"
            )
    return "\n".join(rows)


def timings(outcomes: Iterable[Outcome]) -> str:
    """How long each bench ran, and how loaded the machine was as it started."""
    parts = [
        f"{o.bench} {o.seconds / 60:.1f} min" + ("" if o.load is None else f" (load {o.load:.1f})")
        for o in outcomes
        if o.seconds
    ]
    return f"Wall time per benchmark: {', '.join(parts)}." if parts else ""


def header(*, machine: Machine, when: dt.datetime, command: str, seconds: float) -> str:
    return (
        f"Measured on {when:%Y-%m-%d %H:%M} {when.tzname() or ''} by `{command}` "
        f"({seconds / 60:.0f} min), on {machine.describe()}."
    ).replace("  ", " ")


def render(
    template: str,
    outcomes: Sequence[Outcome],
    *,
    machine: Machine,
    when: dt.datetime,
    command: str,
    seconds: float,
) -> str:
    for placeholder in ("{{header}}", "{{table}}"):
        if placeholder not in template:
            raise ValueError(f"the template has no {placeholder}")
    return template.replace(
        "{{header}}", header(machine=machine, when=when, command=command, seconds=seconds)
    ).replace("{{table}}", "\n\n".join(filter(None, (table(outcomes), timings(outcomes)))))
