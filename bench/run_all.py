"""Run every benchmark and write docs/BENCHMARKS.md from its template.

Each bench script runs as its own process, its output kept in `var/bench/<time>/<bench>.log`;
its figures are its `RESULT {...}` lines (bench/report.py), bench/gateway.py's are read from
its text. The gateway bench needs a running stack with the rate limit lifted: this runner
starts one (`statmuse demo`'s steps through the ops API, on free ports, with
GATEWAY_RATE_LIMIT_PER_MINUTE=1000000) and stops it after. The document is the template
(docs/BENCHMARKS.template.md: the explanations) with the date, the machine and one table row
per figure filled in; a bench that was skipped or failed gets a row saying so.

    uv run python bench/run_all.py                       (make bench; 15-25 minutes)
    uv run python bench/run_all.py --skip train,gateway --out /tmp/BENCHMARKS.md
    uv run python bench/run_all.py --from-logs var/bench/<time> --out /tmp/BENCHMARKS.md
"""

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import Machine, Outcome, Result, parse_gateway, parse_results, render  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TEMPLATE = ROOT / "docs" / "BENCHMARKS.template.md"
OUT = ROOT / "docs" / "BENCHMARKS.md"
GRACE_S = 90  # after an interrupt, time for a bench to stop the servers it started


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    timeout_s: float
    needs_dataset: bool = False
    needs_stack: bool = False  # a running demo stack (the gateway bench)


BENCHES = (
    Bench("ingest", "ingest.py", 20 * 60),
    Bench("features", "features.py", 20 * 60),
    Bench("context", "context.py", 15 * 60),
    Bench("predict", "predict.py", 10 * 60, needs_dataset=True),
    Bench("train", "train.py", 45 * 60, needs_dataset=True),
    Bench("pipeline", "pipeline.py", 30 * 60),
    Bench("gateway", "gateway.py", 20 * 60, needs_stack=True),
)


def newest_dataset() -> Path | None:
    found = sorted(ROOT.glob("var/datasets/*/test.parquet"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def results_of(bench: str, text: str) -> list[Result]:
    return parse_gateway(text) if bench == "gateway" else parse_results(text)


def run_script(argv: list[str], log: Path, timeout_s: float) -> tuple[int, float]:
    """(exit code, seconds). Output goes to `log`; past the time-out the script is
    interrupted (SIGINT, so its `finally` stops what it started), then killed."""
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            code = -1
        except BaseException:  # ^C here: let the bench clean up, then stop
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(GRACE_S)
            raise
    return code, time.perf_counter() - started


def _failure(code: int, log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    last = lines[-1].strip()[:200] if lines else "no output"
    what = "timed out" if code == -1 else f"failed (exit {code})"
    return f"{what}: {last}; log {log.name}"


@contextlib.contextmanager
def demo_stack() -> Iterator[str]:
    """`statmuse demo` with the gateway's rate limit lifted: yields the gateway's URL."""
    from _infra import local_stack

    from statmuse_ops import demo

    with local_stack(env={"GATEWAY_RATE_LIMIT_PER_MINUTE": "1000000"}) as stack:
        result = demo.run(
            stack,
            data_dir=ROOT / "data" / "nba",
            season="2023-24",
            say=lambda m: print(f"  demo: {m}", flush=True),
            models_dir=ROOT / "models",
        )
        # A new model makes the predictor re-predict every player: let that finish first, or
        # the gateway's figures measure the predictor's CPU as much as the gateway's.
        predictor = next(s.url for s in stack.started if s.name == "predictor")
        quiet_for(predictor, "statmuse_predictor_predictions_total", seconds=3, deadline_s=180)
        yield str(result["gateway"])


def quiet_for(url: str, metric: str, *, seconds: float, deadline_s: float) -> None:
    """Until a service's counter has not moved for `seconds` (or the deadline passed)."""
    from statmuse_ops.demo import metric_total

    deadline = time.monotonic() + deadline_s
    last, since = metric_total(url, metric), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < seconds:
        time.sleep(0.5)  # sampling the counter, with a deadline
        now = metric_total(url, metric)
        if now != last:
            last, since = now, time.monotonic()


def run_one(bench: Bench, *, logs: Path, dataset: Path | None) -> Outcome:
    log = logs / f"{bench.name}.log"
    argv = [sys.executable, str(BENCH / bench.script)]
    if bench.needs_dataset:
        if dataset is None:
            return Outcome(
                bench.name,
                [],
                "skipped: no dataset in var/datasets (`statmuse-trainer dataset` builds one)",
            )
        argv += (["models"] if bench.name == "predict" else []) + [str(dataset)]
    started = time.perf_counter()
    if bench.needs_stack:
        try:
            with demo_stack() as gateway:
                code, _ = run_script([*argv, gateway], log, bench.timeout_s)
        except Exception as exc:  # the stack did not come up: say so in the table
            return Outcome(bench.name, [], f"failed: the demo stack did not start ({exc})")
    else:
        code, _ = run_script(argv, log, bench.timeout_s)
    seconds = time.perf_counter() - started
    results = results_of(bench.name, log.read_text(errors="replace"))
    status = "ok" if code == 0 and results else _failure(code, log)
    return Outcome(bench.name, results, status, seconds)


def _names(spec: str) -> set[str]:
    names = {n.strip() for n in spec.split(",") if n.strip()}
    unknown = names - {b.name for b in BENCHES}
    if unknown:
        sys.exit(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT, help="the document to write")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--skip", default="", help="benchmarks not to run, e.g. train,gateway")
    parser.add_argument("--only", default="", help="only these benchmarks")
    parser.add_argument("--logs", type=Path, help="where outputs go (default var/bench/<time>)")
    parser.add_argument(
        "--from-logs", type=Path, help="run nothing: render from the outputs of an earlier run"
    )
    parser.add_argument("--dataset", type=Path, help="for predict and train (default: newest)")
    parser.add_argument("--command", default="", help="the command named in the document")
    args = parser.parse_args()
    template = args.template.read_text()  # early: a missing template fails before the run

    if args.from_logs:
        logs = args.from_logs
        meta = json.loads((logs / "run.json").read_text())
    else:
        skip, only = _names(args.skip), _names(args.only)
        now = dt.datetime.now().astimezone()
        logs = args.logs or ROOT / "var" / "bench" / now.strftime("%Y%m%d-%H%M%S")
        logs.mkdir(parents=True, exist_ok=True)
        command = args.command or "uv run python bench/run_all.py " + shlex.join(sys.argv[1:])
        meta = {
            "started": now.isoformat(),
            "machine": dataclasses.asdict(Machine.here()),
            "command": command.strip(),
            "outcomes": {},
        }
        dataset = args.dataset or newest_dataset()
        began = time.perf_counter()
        for bench in BENCHES:
            if bench.name in skip or (only and bench.name not in only):
                meta["outcomes"][bench.name] = {"status": "skipped in this run", "seconds": 0}
                continue
            print(f"== {bench.name} (output: {logs / (bench.name + '.log')})", flush=True)
            load = os.getloadavg()[0]
            outcome = run_one(bench, logs=logs, dataset=dataset)
            meta["outcomes"][bench.name] = {
                "status": outcome.status,
                "seconds": outcome.seconds,
                "load": load,
            }
            print(
                f"   {outcome.status}, {len(outcome.results)} figures, "
                f"{outcome.seconds / 60:.1f} min",
                flush=True,
            )
            meta["seconds"] = time.perf_counter() - began
            (logs / "run.json").write_text(json.dumps(meta, indent=2))
        meta["seconds"] = time.perf_counter() - began
        (logs / "run.json").write_text(json.dumps(meta, indent=2))

    outcomes = []
    for bench in BENCHES:
        saved = meta["outcomes"].get(bench.name, {"status": "not run", "seconds": 0})
        log = logs / f"{bench.name}.log"
        results = (
            results_of(bench.name, log.read_text(errors="replace"))
            if (saved["status"] == "ok" and log.exists())
            else []
        )
        outcomes.append(
            Outcome(bench.name, results, saved["status"], saved["seconds"], saved.get("load"))
        )
    machine = meta["machine"]
    machine["load"] = tuple(machine["load"])
    document = render(
        template,
        outcomes,
        machine=Machine(**machine),
        when=dt.datetime.fromisoformat(meta["started"]),
        command=meta["command"],
        seconds=meta.get("seconds", 0.0),
    )
    args.out.write_text(document)
    print(f"wrote {args.out} ({sum(len(o.results) for o in outcomes)} figures; outputs in {logs})")


if __name__ == "__main__":
    main()
