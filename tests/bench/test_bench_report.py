"""bench/report.py: reading the benchmarks' output and rendering docs/BENCHMARKS.md, on
recorded outputs (no benchmark runs here)."""

import datetime as dt
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # the bench scripts import each other by file name
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


report = _load("report")

# What bench/ingest.py printed (the lines for people, then its figures).
INGEST_OUTPUT = """\
seasons: 2017-18..2023-24
first run: 188343 player rows read, 188343 stored, 17800 team rows, 0 rejected, 7620 flagged, \
206143 events published in 33.8 s
ingest end to end: 5,568 player rows/s (goal >= 5,000)
second run: 0 rows changed, 0 events published in 18.7 s
baseline (naive one row per INSERT + acknowledged send, 3000 rows): 1,486 rows/s; batched path \
is 3.7x faster
RESULT {"id": "ingest.rows_per_s", "what": "ingest, end to end (files → validation → \
PostgreSQL → events acknowledged), 2017-18..2023-24", "value": 5568.2, "unit": "player rows/s", \
"measured": "5,568 player rows/s (188,343 player + 17,800 team rows, 206,143 events, 33.8 s)", \
"op": ">=", "target": 5000, "goal": "", "baseline": "one INSERT + one acknowledged send per \
row (3,000 rows): 1,486 rows/s", "ratio": 3.747, "ratio_of": "faster", "command": \
"`uv run python bench/ingest.py`"}
RESULT {"id": "ingest.rerun", "what": "ingest re-run of the same seasons (idempotence)", \
"value": 0, "unit": "rows changed + events", "measured": "0 rows changed, 0 events, 18.7 s", \
"op": "==", "target": 0, "goal": "no row changed, no event", "baseline": "the first run: \
33.8 s", "ratio": 1.81, "ratio_of": "faster", "command": "same", "added_later": true}
"""

# What bench/gateway.py printed (its text lines; it has no RESULT lines).
GATEWAY_OUTPUT = """\
predict, uncached, paced at 200/s: n=2000 p50 3.7 ms, p95 10.4 ms, p99 18.3 ms, 200 \
requests/s, 0 failed; load generator 9% of a core, machine 71% busy (2 cores)
predict, uncached, model outputs known, paced at 500/s: n=2000 p50 1.2 ms, p95 2.6 ms, p99 \
8.3 ms, 498 requests/s, 0 failed; load generator 8% of a core, machine 30% busy (2 cores)
predict, uncached, model outputs known, 16 connections: n=6000 p50 10.0 ms, p95 14.2 ms, p99 \
30.9 ms, 1,485 requests/s, 1 failed; load generator 8% of a core, machine 65% busy (2 cores)
baseline: /health, 16 connections: n=10000 p50 7.1 ms, p95 15.2 ms, p99 22.0 ms, 2,190 \
requests/s, 0 failed; load generator 31% of a core, machine 100% busy (2 cores)
predict, warm cache, 16 connections: n=10000 p50 12.1 ms, p95 98.0 ms, p99 130.2 ms, 559 \
requests/s, 0 failed; load generator 12% of a core, machine 100% busy (2 cores)
baseline: the same through httpx: n=3000 p50 20.0 ms, p95 110.0 ms, p99 140.0 ms, 401 \
requests/s, 0 failed; load generator 95% of a core, machine 100% busy (2 cores)
baselines: uncached p95 10.4 ms vs cached p95 98.0 ms (0.1x); warm cache at 26% of /health's \
rate; httpx reached 72% of this client's rate
batch of 50, uncached, one at a time: n=100 p50 75.7 ms, p95 151.0 ms, p99 160.0 ms, 13 \
requests/s, 2 failed; load generator 3% of a core, machine 80% busy (2 cores)
batch of 50, cached, 4 connections: n=200 p50 56.0 ms, p95 156.0 ms, p99 170.0 ms, 60 \
requests/s, 0 failed; load generator 4% of a core, machine 100% busy (2 cores)
"""

MACHINE = report.Machine(
    cores=2, memory_gib=24.0, python="3.11.7", system="Linux x86_64", load=(2.5, 2.1, 1.9)
)
WHEN = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)


def test_result_lines_are_read_and_the_rest_ignored():
    found = report.parse_results(INGEST_OUTPUT)
    assert [r.id for r in found] == ["ingest.rows_per_s", "ingest.rerun"]
    rate, rerun = found
    assert rate.value == pytest.approx(5568.2)
    assert rate.met is True
    assert rate.goal_text() == "≥ 5,000 player rows/s"
    assert rerun.met is True  # an unknown field ("added_later") is ignored
    assert rerun.goal_text() == "no row changed, no event"


def test_emit_writes_what_parse_reads(capsys):
    figure = report.Result(
        id="x.y",
        what="a | b",
        value=61.5,
        unit="s",
        measured="61.5 s",
        op="<=",
        target=60.0,
        baseline="naive: 1 row/s",
        ratio=120.0,
        ratio_of="faster",
    )
    report.emit(figure)
    assert report.parse_results(capsys.readouterr().out) == [figure]
    assert figure.met is False


def test_a_broken_result_line_fails_loudly():
    with pytest.raises(ValueError, match="Expecting"):
        report.parse_results('RESULT {"id": "x", ')
    with pytest.raises(TypeError):
        report.parse_results('RESULT {"id": "x.y"}')  # no value, unit, ...


def test_the_gateway_text_becomes_five_figures_with_their_baselines():
    uncached, known_paced, known_rate, cached, batch = report.parse_gateway(GATEWAY_OUTPUT)
    assert uncached.id == "gateway.predict_uncached"
    assert (uncached.value, uncached.met) == (10.4, False)
    assert uncached.ratio == pytest.approx(10.4 / 98.0)
    assert known_paced.id == "gateway.predict_uncached_known_paced"
    assert (known_paced.value, known_paced.met) == (2.6, True)
    assert known_paced.ratio == pytest.approx(2.6 / 10.4)
    assert known_rate.id == "gateway.predict_uncached_known_rate"
    assert (known_rate.value, known_rate.met) == (1485.0, False)
    assert "1 failed of 6,000" in known_rate.measured
    assert known_rate.ratio == pytest.approx(1485 / 559)
    assert cached.id == "gateway.predict_cached"
    assert (cached.value, cached.met) == (559.0, False)
    assert cached.ratio == pytest.approx(559 / 2190)
    assert "2,190 requests/s" in cached.baseline
    assert batch.id == "gateway.batch_uncached"
    assert (batch.value, batch.met) == (151.0, False)
    assert "2 failed of 100" in batch.measured
    assert batch.ratio == pytest.approx(75.7 / 56.0)


def test_gateway_runs_that_are_missing_give_no_row():
    only_uncached = GATEWAY_OUTPUT.splitlines()[0]
    (figure,) = report.parse_gateway(only_uncached)
    assert figure.baseline == ""
    assert figure.ratio is None
    assert report.parse_gateway("the gateway did not answer a prediction: 503") == []


def test_render_fills_the_placeholders_and_keeps_the_prose():
    template = "# Benchmarks\n\n{{header}}\n\n{{table}}\n\nWhere the time goes: by hand.\n"
    outcomes = [
        report.Outcome("ingest", report.parse_results(INGEST_OUTPUT), seconds=102, load=4.07),
        report.Outcome("train", [], "skipped in this run"),
        report.Outcome("gateway", report.parse_gateway(GATEWAY_OUTPUT)),
    ]
    text = report.render(
        template, outcomes, machine=MACHINE, when=WHEN, command="make bench", seconds=1260
    )
    assert "{{" not in text
    assert text.endswith("Where the time goes: by hand.\n")
    assert "Measured on 2026-11-25 14:00 UTC by `make bench` (21 min)" in text
    assert "2 cores, 24 GiB, Linux x86_64, Python 3.11.7; load average 2.50" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| what | goal | measured | goal met | baseline")
    ingest = next(r for r in rows if r.startswith("| ingest, end to end"))
    assert "| ≥ 5,000 player rows/s |" in ingest
    assert "| met |" in ingest
    assert "| 3.7× faster |" in ingest
    assert "1,486 rows/s" in ingest
    assert any(
        r.startswith("| train | | **not measured**: skipped in this run |")
        and r.endswith("| `uv run python bench/train.py` |")
        for r in rows
    )
    uncached = next(r for r in rows if "uncached (every body distinct)" in r)
    assert "| **not met** |" in uncached
    assert "0.11× the warm cache's p95" in uncached
    assert len(rows) == 2 + 2 + 1 + 5  # header, ingest, train (not measured), gateway
    assert "Wall time per benchmark: ingest 1.7 min (load 4.1)." in text


def test_render_refuses_a_template_without_its_placeholders():
    with pytest.raises(ValueError, match="table"):
        report.render("{{header}} only", [], machine=MACHINE, when=WHEN, command="c", seconds=0)


def test_a_pipe_in_a_figure_does_not_break_the_table():
    figure = report.Result(id="a.b", what="a | b", value=1, unit="s", measured="1 s")
    row = report.table([report.Outcome("a", [figure])]).splitlines()[-1]
    assert "a \\| b" in row
    assert row.count(" | ") == 6


@pytest.mark.parametrize(
    ("value", "shown"),
    [(5568.2, "5,568"), (56.74, "56.7"), (3.024, "3.02"), (0.123, "0.12"), (10.0, "10")],
)
def test_numbers_read_like_the_hand_written_table(value, shown):
    assert report.number(value) == shown


def test_the_real_template_renders():
    template = (ROOT / "docs" / "BENCHMARKS.template.md").read_text()
    text = report.render(
        template,
        [report.Outcome("ingest", report.parse_results(INGEST_OUTPUT))],
        machine=MACHINE,
        when=WHEN,
        command="make bench",
        seconds=60,
    )
    assert text.startswith("# Benchmarks")
    assert "Where the features build time goes" in text


def test_every_bench_script_is_run_and_prints_figures():
    run_all = _load("run_all")
    scripts = {b.script for b in run_all.BENCHES}
    helpers = {"_infra.py", "report.py", "run_all.py"}
    assert scripts == {p.name for p in BENCH.glob("*.py")} - helpers
    for script in scripts - {"gateway.py"}:  # gateway.py's text is parsed instead
        text = (BENCH / script).read_text()
        assert re.search(r"emit\(\s*Result\(", text), f"{script} prints no RESULT"
