"""One season end to end on the local stack: ingest -> features -> predictions.

Starts what `statmuse up` starts (PostgreSQL, Redis, the broker, the five services, each its
own process; on free ports, in a temporary folder), registers the shipped models the way
`statmuse demo` does, then ingests one bundled season with the ingestor's real backfill
(`statmuse-ingestor backfill`, a process of its own) and measures, from the moment the
backfill starts:

- ingest done: the backfill process has exited (every row stored and every event acknowledged);
- features caught up: the features service has consumed every event and reconciled the
  vectors made stale by late team box scores;
- predictions caught up: the predictor has consumed every vector the features service
  published, and every PredictionMade it counted has been read back from
  `nba.predictions.v1` (the end-to-end time is when the last of them arrived);
- CPU seconds per process over the run (each service; PostgreSQL with its backends, where
  the services' queries run; the broker; Redis; the backfill), to see where the work goes;
- throughput (player rows per second, end to end) and lag over time: each consumer's backlog,
  events or vectors published upstream minus what its own counters say it consumed, sampled
  every half second. (Group offsets from the broker would be the usual measure, but tansu
  answers aiokafka's ListOffsets and admin OffsetFetch in ways aiokafka cannot use; see
  docs/ARCHITECTURE.md, "Local stack".)

Goal: a 26,000-row season end to end in 30 s or less; the seven bundled seasons in 3 minutes.

Baseline, measured in the same run, on the same stack, before the season: one row at a time
through the same stages: for each of the first rows of the previous season, its own INSERT,
an acknowledged send, and a wait for its five predictions before the next row (the stages with
no batching anywhere); its rate, extrapolated to the season, against the batched run's.

    uv run python bench/pipeline.py [--season 2023-24] [--naive-rows 60]

Several seasons at once: `--season 2017-18..2023-24 --naive-rows 0` (no baseline: the season
before the first is not bundled).

One script, over 400 lines, read top to bottom as one measurement: the stack, the watcher of
the predictions topic, the samples and the report belong together.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _infra import cpu_seconds, fresh_database, local_stack, machine_busy, memory_mb  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from ingest import naive_insert  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from report import Result, emit  # noqa: E402

from statmuse_ingestor.service import normalise_player_row  # noqa: E402
from statmuse_ingestor.sources import FileSource  # noqa: E402
from statmuse_ops.demo import import_models, ingest_command, metric_total  # noqa: E402
from statmuse_ops.stack import Stack, stack_env  # noqa: E402
from statmuse_shared.contract import topics  # noqa: E402
from statmuse_shared.contract.stats import Stat  # noqa: E402
from statmuse_shared.platform.broker import make_broker  # noqa: E402
from statmuse_shared.platform.db import create_pool  # noqa: E402
from statmuse_shared.platform.migrations import migrate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "nba"
MODELS = ROOT / "models"
# Issue 18's goals: a season end to end in 30 s, the seven bundled seasons in 3 minutes.
GOAL_S = 30.0
GOAL_SEVEN_S = 180.0
SAMPLE_S = 0.5
STATS = len(Stat)
AS_OF = re.compile(rb'"as_of":"(\d{4}-\d{2}-\d{2})"')


# --- reading the stack ------------------------------------------------------------------------


async def metrics(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    """Every sample of a service's /metrics, summed over labels."""
    text = (await client.get(f"{url}/metrics", timeout=10)).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


class Predictions:
    """Reads `nba.predictions.v1` from the start in a consumer group of its own: how many
    PredictionMade arrived, when the last did, and per (player, as_of) how many."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topics.PREDICTIONS,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=f"bench-pipeline-{uuid.uuid4().hex[:12]}",
            enable_auto_commit=False,
        )
        self.count = 0
        self.last_at = 0.0
        self.per_key: dict[tuple[int, bytes], int] = {}
        self.first_of_day: dict[bytes, float] = {}  # as_of -> when its first prediction came
        self.arrived = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, *, deadline_s: float = 60) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())
        deadline = time.monotonic() + deadline_s
        while not self.consumer.assignment():  # joined the group: nothing will be missed
            if time.monotonic() > deadline:
                raise RuntimeError("the predictions consumer got no partitions")
            await asyncio.sleep(0.1)  # polling the join, with a deadline

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=20000)
            now = time.perf_counter()
            for records in batches.values():
                for r in records:
                    found = AS_OF.search(r.value or b"")
                    as_of = found.group(1) if found else b"?"
                    key = (int(r.key or b"0"), as_of)
                    self.per_key[key] = self.per_key.get(key, 0) + 1
                    self.first_of_day.setdefault(as_of, now)
                    self.count += 1
                    self.last_at = now
            if batches:
                self.arrived.set()

    async def wait_for(self, player_id: int, as_of: dt.date, *, n: int, deadline_s: float) -> None:
        key = (player_id, as_of.isoformat().encode())
        async with asyncio.timeout(deadline_s):
            while self.per_key.get(key, 0) < n:
                self.arrived.clear()
                await self.arrived.wait()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.consumer.stop()


# --- the baseline: one row at a time ------------------------------------------------------


async def naive(stack: Stack, watch: Predictions, *, season: str, rows: int) -> list[float]:
    """Seconds per row, each row alone through the stages: INSERT (into a database of its own,
    so the season's backfill is not affected), acknowledged send, its predictions back."""
    source = FileSource(DATA)
    games = sorted(
        (normalise_player_row(r.record, source="files").game for r in source.player_rows(season)),
        key=lambda g: (g.game_date, g.game_key, g.player_id),
    )[:rows]
    dsn = await fresh_database(stack.env["DATABASE_URL"], "bench_pipeline_naive")
    await migrate(dsn, schemas=["ingest"])
    pool = await create_pool(dsn)
    broker = make_broker(stack.env["KAFKA_BOOTSTRAP_SERVERS"], client_id="bench-pipeline-naive")
    await broker.connect()
    took = []
    try:
        for g in games:
            t0 = time.perf_counter()
            await naive_insert(pool, g)
            await broker.publish(
                g.model_dump_json().encode(),
                topics.GAMES_RAW,
                key=topics.player_key(g.player_id),
                headers={"content-type": "application/json"},
            )
            # The predictor predicts a player's next game: as_of is the day after this one.
            await watch.wait_for(
                g.player_id, g.game_date + dt.timedelta(days=1), n=STATS, deadline_s=60
            )
            took.append(time.perf_counter() - t0)
    finally:
        await broker.stop()
        await pool.close()
    return took


# --- the season ---------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    published: float  # raw messages the ingestor has published (a team box: one per partition)
    features_in: float  # raw messages the features service consumed
    stale: float
    vectors: float  # vectors the features service published
    predictor_in: float
    predictions: float  # PredictionMade the predictor published
    read_back: float  # PredictionMade read back from the topic
    trainer_in: float
    gateway_games: float
    gateway_vectors: float

    @property
    def features_lag(self) -> float:
        return max(0.0, self.published - self.features_in)

    @property
    def predictor_lag(self) -> float:
        return max(0.0, self.vectors - self.predictor_in)


@dataclass
class Season:
    summary: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    ingest_done: float | None = None
    features_done: float | None = None
    predictions_done: float | None = None
    trainer_done: float | None = None
    gateway_done: float | None = None
    last_day_first: float | None = None  # first prediction for the season's last games
    busy: float = 0.0  # share of the machine's cores busy during the run
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process, the run
    memory: dict[str, float] = field(default_factory=dict)  # resident MB per process, after


async def season_run(stack: Stack, watch: Predictions, *, season: str, deadline_s: float) -> Season:
    urls = {s.name: s.url for s in stack.started if s.url.startswith("http")}
    out = Season()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-ingest-"))
    summary_file = run_dir / "summary.json"
    argv = ingest_command(DATA, season, summary_file)
    pool = await create_pool(stack.env["DATABASE_URL"])
    async with httpx.AsyncClient() as client:

        async def sample(t: float) -> Sample:
            f, p, tr, gw = await asyncio.gather(
                *(metrics(client, urls[n]) for n in ("features", "predictor", "trainer", "gateway"))
            )
            published = await pool.fetchval(
                "SELECT (SELECT count(*) FROM ingest.player_game_stats WHERE published_at "
                "IS NOT NULL) + $1::int * (SELECT count(*) FROM ingest.team_game_stats WHERE "
                "published_at IS NOT NULL)",
                topics.DEFAULT_PARTITIONS,
            )
            return Sample(
                t=t,
                published=float(published),
                features_in=f.get("statmuse_features_messages_total", 0.0),
                stale=f.get("statmuse_features_stale_seasons", 0.0),
                vectors=f.get("statmuse_features_vectors_total", 0.0),
                predictor_in=p.get("statmuse_predictor_vectors_total", 0.0),
                predictions=p.get("statmuse_predictor_predictions_total", 0.0),
                read_back=float(watch.count),
                trainer_in=tr.get("statmuse_trainer_vectors_total", 0.0),
                gateway_games=gw.get("statmuse_gateway_games_total", 0.0),
                gateway_vectors=gw.get("statmuse_gateway_vectors_total", 0.0),
            )

        zero = await sample(0.0)  # the counters before the season (the baseline's messages)
        jiffies = machine_busy()
        cpu_before = cpu_seconds(stack.started)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        log = await asyncio.to_thread((run_dir / "ingest.log").open, "wb")
        with log:
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                *argv, env=stack_env(stack), stdout=log, stderr=asyncio.subprocess.STDOUT
            )
            wait_proc = asyncio.create_task(proc.wait())
            deadline = t0 + deadline_s
            while time.perf_counter() < deadline:
                now = time.perf_counter() - t0
                if out.ingest_done is None and wait_proc.done():
                    if proc.returncode != 0:
                        sys.exit(f"the backfill failed ({proc.returncode}): {run_dir}/ingest.log")
                    out.ingest_done = now
                    out.summary = json.loads(summary_file.read_text())
                raw = await sample(now)
                s = Sample(
                    **{k: (v if k == "t" else v - getattr(zero, k)) for k, v in vars(raw).items()}
                )
                s.stale = raw.stale
                out.samples.append(s)
                if out.ingest_done is not None:
                    events = out.summary["messages"]
                    if out.features_done is None and s.features_in >= events and s.stale == 0:
                        out.features_done = now
                    if out.features_done is not None:
                        if (
                            out.predictions_done is None
                            and s.predictor_in >= s.vectors
                            and s.read_back >= s.predictions
                        ):
                            out.predictions_done = watch.last_at - t0
                        if out.trainer_done is None and s.trainer_in >= s.vectors:
                            out.trainer_done = now
                        if (
                            out.gateway_done is None
                            and s.gateway_vectors >= s.vectors
                            and s.gateway_games >= events
                        ):
                            out.gateway_done = now
                if None not in (out.predictions_done, out.trainer_done, out.gateway_done):
                    break
                await asyncio.sleep(SAMPLE_S)  # the sampling period, not a guess at progress
            else:
                if not wait_proc.done():
                    proc.kill()
                    await proc.wait()
                print(f"deadline of {deadline_s:.0f} s passed before everything caught up")
        busy, total = machine_busy()
        if total > jiffies[1]:
            out.busy = (busy - jiffies[0]) / (total - jiffies[1])
        cpu_after = cpu_seconds(stack.started)
        out.memory = memory_mb(stack.started)
        out.cpu = {n: cpu_after[n] - cpu_before.get(n, 0.0) for n in cpu_after}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the backfill, once exited
        out.cpu["backfill"] = (children.ru_utime + children.ru_stime) - (
            children_before.ru_utime + children_before.ru_stime
        )
    await pool.close()
    if out.ingest_done is not None:  # kept otherwise: the backfill's log says why
        shutil.rmtree(run_dir, ignore_errors=True)
    days = [d for d in watch.first_of_day if d != b"?"]
    if days:
        out.last_day_first = watch.first_of_day[max(days)] - t0
    return out


def previous_season(season: str) -> str:
    start = int(season[:4]) - 1
    return f"{start}-{(start + 1) % 100:02d}"


def _at(value: float | None) -> str:
    return "not within the deadline" if value is None else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--season", default="2023-24")
    parser.add_argument(
        "--naive-rows",
        type=int,
        default=60,
        help="rows of the previous season sent one at a time (0: no baseline)",
    )
    parser.add_argument("--deadline", type=float, default=900, help="seconds for the season")
    args = parser.parse_args()

    with local_stack() as stack:
        urls = {s.name: s.url for s in stack.started if s.url.startswith("http")}
        versions = import_models(stack, MODELS)
        deadline = time.monotonic() + 120
        while metric_total(urls["predictor"], "statmuse_predictor_models_loaded") < STATS:
            if time.monotonic() > deadline:
                sys.exit("the predictor did not load the shipped models")
            time.sleep(0.2)  # polling the predictor's gauge, with a deadline
        print(
            f"stack up ({', '.join(sorted(urls))}, on free ports); models: "
            f"{', '.join(versions)}; {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.2f}"
        )

        async def measure() -> tuple[list[float], Season]:
            watch = Predictions(stack.env["KAFKA_BOOTSTRAP_SERVERS"])
            await watch.start()
            try:
                took = []
                if args.naive_rows:
                    took = await naive(
                        stack, watch, season=previous_season(args.season), rows=args.naive_rows
                    )
                return took, await season_run(
                    stack, watch, season=args.season, deadline_s=args.deadline
                )
            finally:
                await watch.stop()

        took, run = asyncio.run(measure())
    report(args.season, took, run)


def report(season: str, took: list[float], run: Season) -> None:
    players = run.summary.get("read", 0)
    teams = run.summary.get("team_stored", 0)
    print(
        f"season {season}: {players:,} player rows read ({run.summary.get('stored', 0):,} "
        f"stored), {teams:,} team rows, {run.summary.get('published', 0):,} events as "
        f"{run.summary.get('messages', 0):,} messages (a team box to every partition); machine "
        f"{run.busy:.0%} busy during the run"
    )
    if run.cpu:
        spent = sorted(run.cpu.items(), key=lambda kv: -kv[1])
        print(
            f"CPU over the run, {sum(run.cpu.values()):.1f} s in all (PostgreSQL's includes the "
            "queries the services sent it): "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent if seconds >= 0.05)
        )
    if run.memory:
        print(
            "resident memory after the run: "
            + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in sorted(run.memory.items()))
        )
    print("lag over time (backlogs: messages or vectors published upstream, not yet consumed):")
    print(
        f"{'t s':>6} {'published':>9} {'features':>9} {'f. lag':>7} {'vectors':>8} "
        f"{'predictor':>9} {'p. lag':>7} {'predictions':>11} {'read back':>9}"
    )
    shown = -1e9
    for s in run.samples:
        if s.t - shown >= 5 or s is run.samples[-1]:
            shown = s.t
            print(
                f"{s.t:6.1f} {s.published:9.0f} {s.features_in:9.0f} {s.features_lag:7.0f} "
                f"{s.vectors:8.0f} {s.predictor_in:9.0f} {s.predictor_lag:7.0f} "
                f"{s.predictions:11.0f} {s.read_back:9.0f}"
            )
    f_lag = max(run.samples, key=lambda s: s.features_lag)
    p_lag = max(run.samples, key=lambda s: s.predictor_lag)
    print(
        f"ingest done {_at(run.ingest_done)}; features caught up {_at(run.features_done)}; "
        f"predictions caught up {_at(run.predictions_done)} (first prediction for the "
        f"season's last games at {_at(run.last_day_first)}); trainer caught up "
        f"{_at(run.trainer_done)}, gateway {_at(run.gateway_done)}"
    )
    print(
        f"largest backlogs: features {f_lag.features_lag:,.0f} messages (at {f_lag.t:.0f} s), "
        f"predictor {p_lag.predictor_lag:,.0f} vectors (at {p_lag.t:.0f} s)"
    )
    if run.predictions_done is None:
        print("end to end: not measured (the predictions did not catch up)")
        return
    e2e = run.predictions_done
    rate = players / e2e
    several = ".." in season
    goal_s = GOAL_SEVEN_S if several else GOAL_S
    goal = (
        f"≤ {goal_s:.0f} s for the seven bundled seasons"
        if several
        else f"≤ {goal_s:.0f} s for a 26,000-row season"
    )
    print(f"end to end: {e2e:.1f} s, {rate:,.0f} player rows/s (goal: {goal})")
    baseline, ratio = "", None
    if took:
        naive_rate = len(took) / sum(took)
        ratio = rate / naive_rate
        median = statistics.median(took) * 1000
        baseline = (
            f"one row at a time through the same stages (own INSERT, acknowledged "
            f"send, wait for its {STATS} predictions), {len(took)} rows: median "
            f"{median:,.0f} ms per row, {naive_rate:.1f} rows/s, the season "
            f"extrapolated {players / naive_rate / 60:,.0f} min"
        )
        print(f"baseline ({baseline}); batched path is {ratio:,.0f}x faster")
    emit(
        Result(
            id="pipeline.end_to_end",
            what=f"{'seasons' if several else 'one season'} ({season}) end to end on the local "
            "stack: backfill → features → "
            "predictions read back from `nba.predictions.v1`, every service its own process",
            value=e2e,
            unit="s",
            op="<=",
            target=goal_s,
            goal=goal,
            measured=f"{e2e:.1f} s, {rate:,.0f} player rows/s ({players:,} player + {teams:,} "
            f"team rows; ingest done at {_at(run.ingest_done)}, features caught up at "
            f"{_at(run.features_done)}; machine {run.busy:.0%} busy)",
            baseline=baseline,
            ratio=ratio,
            ratio_of="faster",
            command="`uv run python bench/pipeline.py`",
        )
    )
    tail = e2e - (run.ingest_done or 0.0)
    emit(
        Result(
            id="pipeline.lag",
            what="lag while that season streams: the largest backlog of each consumer, and how "
            "long predictions trail the end of ingest",
            value=tail,
            unit="s",
            measured=f"predictions caught up {tail:.1f} s after ingest finished; largest "
            f"backlogs: features {f_lag.features_lag:,.0f} messages, predictor "
            f"{p_lag.predictor_lag:,.0f} vectors; the last games' first prediction at "
            f"{_at(run.last_day_first)}",
            command="same",
        )
    )


if __name__ == "__main__":
    main()
