"""`statmuse replay`: the live path itself, day by day, on the local stack, then scored.

Before the first day the stack holds the season up to the day before it (a files backfill)
and serves the shipped models. Then, for each day:

1. morning: the ingestor publishes that day's schedule, availability and the books' lines
   (files sources, exactly what the live sources would publish that morning);
2. the features service computes every rostered player's pre-game vector once it is idle,
   the predictor prices the posted lines (nba.props.priced.v1), the gateway keeps both;
3. the replay asks the gateway about every posted line (POST /api/batch_predict with the
   day as game_date, as a user would) and reads the day's slate (GET /api/slate);
4. night: the ingestor publishes the day's box scores, and the pipeline catches up.

Every wait watches the services' own /metrics or answers, with a deadline. The answers and
the slates go to `<out>/answers.csv` and `<out>/slate.csv`; the trainer's `replay-report`
scores them against the outcomes and against `statmuse evaluate` on the same lines.
"""

import csv
import datetime as dt
import gzip
import json
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from statmuse_ops.demo import DemoError, import_models, metric_total, wait_until
from statmuse_ops.progress import Stalled, watch
from statmuse_ops.stack import Stack, stack_env
from statmuse_shared.contract import topics
from statmuse_shared.contract.books import american_odds

Say = Callable[[str], None]
MARKETS = ("points", "rebounds", "assists", "threes", "pra")
BATCH = 50  # the gateway's batch limit
ANSWER_FIELDS = (
    "day",
    "player_name",
    "stat",
    "line",
    "status",
    "error",
    "player_id",
    "game_date",
    "opponent",
    "as_of",
    "data_as_of",
    "stale",
    "over_probability",
    "under_probability",
    "push_probability",
    "model_over_probability",
    "line_weight",
    "model_version",
)
SLATE_FIELDS = (
    "day",
    "player_id",
    "player",
    "team",
    "opponent",
    "stat",
    "line",
    "books",
    "over_probability",
    "under_probability",
    "push_probability",
    "model_over_probability",
    "books_over_probability",
    "edge",
    "consensus_over",
    "consensus_under",
    "best_book",
    "best_side",
    "best_price",
    "best_expected_value",
    "recommendation",
    "data_as_of",
    "stale",
)


class ReplayError(DemoError):
    pass


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def posted_props(data_dir: Path, start: dt.date, end: dt.date) -> dict[dt.date, set[Any]]:
    """Each day's distinct (book's player name, stat, line) in the bundled prop_lines files:
    what the replay asks the gateway about."""
    out: dict[dt.date, set[Any]] = defaultdict(set)
    for path in sorted((data_dir / "prop_lines").glob("*.csv.gz")):
        with gzip.open(path, "rt", newline="") as f:
            for r in csv.DictReader(f):
                day = dt.date.fromisoformat(r["game_date"][:10])
                if not start <= day <= end or r["market"] not in MARKETS:
                    continue
                if american_odds(r["over_odds"]) is None:
                    continue
                try:
                    line = float(r["line"])
                except ValueError:
                    continue
                out[day].add((r["player_name"], r["market"], line))
    return out


@dataclass
class Progress:
    """What the replay has done so far, for the summary and the report."""

    days: int = 0
    asked: int = 0
    answered: int = 0
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    slate: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class Replay:
    def __init__(
        self,
        stack: Stack,
        *,
        data_dir: Path,
        season: str,
        out: Path,
        say: Say,
        deadline_s: float = 300,
    ) -> None:
        self.stack = stack
        self.data_dir = data_dir
        self.season = season
        self.out = out
        self.say = say
        self.deadline_s = deadline_s
        self.urls = {s.name: s.url for s in stack.started if s.url.startswith("http")}
        missing = {"ingestor", "features", "trainer", "predictor", "gateway"} - self.urls.keys()
        if missing:
            raise ReplayError(f"services not running: {sorted(missing)}")
        self.gateway = httpx.Client(base_url=self.urls["gateway"], timeout=30)
        self.games_published = int(  # raw messages only: the features also count schedules
            metric_total(
                self.urls["features"], "statmuse_features_messages_total", topic=topics.GAMES_RAW
            )
        )
        self.schedules_published = int(self.schedules_read())
        self.lines_published = int(
            metric_total(self.urls["predictor"], "statmuse_predictor_lines_total")
        )
        self.lines_today = 0  # lines the last `morning` published
        self.priced_before = 0.0  # props the predictor had priced before them
        self.progress = Progress()
        self.verbose = False  # say each wait as it ends (the demo), or not (a long replay)
        self.console: Console | None = None  # where the waits draw their bars (None: nowhere)

    # ---- the ingestor's commands ---------------------------------------------------------

    def _ingest(self, command: str, *args: str, seasons: str | None = None) -> dict[str, int]:
        summary = self.stack.run_dir / f"{command}-{uuid.uuid4().hex[:8]}.json"
        exe = Path(sys.executable).with_name("statmuse-ingestor")
        result = subprocess.run(
            [
                str(exe),
                command,
                *("--seasons", seasons or self.season, "--data-dir", str(self.data_dir)),
                *args,
                *("--summary-json", str(summary)),
            ],
            env=stack_env(self.stack),
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ReplayError(f"{command} failed ({result.returncode}): {result.stderr.strip()}")
        counts: dict[str, int] = json.loads(summary.read_text())
        summary.unlink()
        return counts

    def _timed(self, what: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return step()
        finally:
            self.progress.seconds[what] += time.perf_counter() - started

    # ---- waits ---------------------------------------------------------------------------

    def _wait(self, what: str, check: Callable[[], bool]) -> None:
        say = self.say if self.verbose else (lambda _: None)
        wait_until(what, check, deadline_s=self.deadline_s, say=say)

    def caught_up(self) -> None:
        """Features have consumed every box score published and reconciled, and every
        service downstream has consumed every vector the features published."""
        features = self.urls["features"]
        self._wait_progress(
            f"features consumed {self.games_published} messages",
            partial(
                metric_total, features, "statmuse_features_messages_total", topic=topics.GAMES_RAW
            ),
            self.games_published,
        )
        # A team box score that really comes late (a correction) makes the vectors after its
        # day stale: recomputing them takes a while, so this waits as long as the features
        # service keeps publishing vectors.
        self._wait_progress(
            "features reconciled (vectors recomputed)",
            partial(metric_total, features, "statmuse_features_vectors_total"),
            None,
            done=lambda: metric_total(features, "statmuse_features_stale_seasons") == 0,
        )
        self.vectors_consumed()

    def _wait_progress(
        self,
        what: str,
        value: Callable[[], float],
        target: float | None,
        *,
        done: Callable[[], bool] | None = None,
    ) -> None:
        """`progress.watch` (a bar on `self.console`, if any); a ReplayError when `value()`
        has not moved for the deadline (a backlog of several seasons takes longer than any
        fixed deadline)."""
        try:
            watch(what, value, target, stall_s=self.deadline_s, done=done, console=self.console)
        except Stalled as exc:
            raise ReplayError(str(exc)) from None
        if self.verbose:
            self.say(f"ok: {what}")

    def vectors_in(self) -> bool:
        vectors = metric_total(self.urls["features"], "statmuse_features_vectors_total")
        return metric_total(self.urls["gateway"], "statmuse_gateway_vectors_total") >= vectors

    def schedules_read(self) -> float:
        """Schedule messages the features service has handled: it counts one once the
        pre-game vectors it calls for are published."""
        return metric_total(
            self.urls["features"], "statmuse_features_messages_total", topic=topics.SCHEDULE
        )

    def vectors_consumed(self) -> None:
        vectors = metric_total(self.urls["features"], "statmuse_features_vectors_total")
        for name in ("trainer", "predictor", "gateway"):
            count = partial(metric_total, self.urls[name], f"statmuse_{name}_vectors_total")
            self._wait_progress(f"{name} consumed the vectors", count, vectors)

    # ---- the steps -----------------------------------------------------------------------

    def resume(self) -> None:
        """On a stack that already holds the data up to the day before and serves the models
        (a replay stopped after its `prepare`): wait until the features have reconciled and
        every vector is consumed."""
        self.caught_up()

    def prepare(self, start: dt.date, models_dir: Path, *, history: str | None = None) -> None:
        """The season up to the day before `start` (and the `history` seasons before it, such
        as "2017-18..2022-23", when given), and the shipped models served."""
        seasons = self.season if history is None else f"{history.split('..')[0]}..{self.season}"
        counts = self._ingest(
            "backfill", "--to", str(start - dt.timedelta(days=1)), seasons=seasons
        )
        self.games_published += counts["messages"]  # a team box is on every partition
        self.say(f"{counts['published']} box scores before {start} published")
        # The games already played are on the schedule too (a date can name one of them).
        played = self._ingest("schedule", "--to", str(start - dt.timedelta(days=1)))
        self.schedules_published += played["published"]
        versions = import_models(self.stack, models_dir)
        self.say(f"serving the shipped models: {', '.join(versions)}")
        self._wait(
            "the predictor serves them",
            lambda: (
                metric_total(self.urls["predictor"], "statmuse_predictor_models_loaded")
                >= len(MARKETS)
            ),
        )
        self.caught_up()

    def morning(self, day: dt.date) -> None:
        at = ("--from", str(day), "--to", str(day))
        schedule = self._ingest("schedule", *at)
        self.schedules_published += schedule["published"]
        self._ingest("availability", *at)
        self.priced_before = metric_total(
            self.urls["predictor"], "statmuse_predictor_props_priced_total"
        )
        lines = self._ingest("lines", *at)
        self.lines_published += lines["published"]
        self.lines_today = lines["published"]

    def ask(self, day: dt.date, props: set[Any]) -> list[dict[str, Any]]:
        """Every posted prop of the day through POST /api/batch_predict. Until the player's
        pre-game vector is in, the gateway answers from his previous vector (without the game,
        or a 409 naming the earlier game): such a prop is asked again, until the deadline."""
        items = sorted(props)
        answers: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + self.deadline_s
        pending = list(range(len(items)))
        rounds = 0
        while pending:
            retry = []
            for chunk in (pending[i : i + BATCH] for i in range(0, len(pending), BATCH)):
                body = {
                    "items": [
                        {"player": items[i][0], "stat": items[i][1], "line": items[i][2],
                         "game_date": str(day)}
                        for i in chunk
                    ]
                }  # fmt: skip
                response = self.gateway.post("/api/batch_predict", json=body)
                if response.status_code != 200:
                    raise ReplayError(f"batch_predict: {response.status_code} {response.text}")
                for result in response.json()["results"]:
                    i = chunk[result["index"]]
                    answers[i] = result
                    if not for_the_game(result, day):
                        retry.append(i)
            rounds += 1
            if not retry or time.monotonic() > deadline:
                break
            # Settled: the same props wait as a round ago, and every vector the features
            # published is in the gateway; those players get no vector for the day.
            if retry == pending and rounds >= 3 and self.vectors_in():
                break
            pending = retry
            time.sleep(1.0)  # the features service computes them once idle
        rows = []
        for i, (name, stat, line) in enumerate(items):
            result = answers[i]
            p = result.get("prediction") or {}
            game = p.get("game") or {}
            rows.append(
                {
                    "day": day,
                    "player_name": name,
                    "stat": stat,
                    "line": line,
                    "status": result["status"],
                    "error": result.get("error") or "",
                    "player_id": p.get("player_id", ""),
                    "game_date": game.get("game_date", ""),
                    "opponent": game.get("opponent", ""),
                    "as_of": p.get("as_of", ""),
                    "data_as_of": p.get("data_as_of", ""),
                    "stale": p.get("stale", ""),
                    **{
                        k: p.get(k, "")
                        for k in (
                            "over_probability",
                            "under_probability",
                            "push_probability",
                            "model_over_probability",
                            "line_weight",
                            "model_version",
                        )
                    },
                }
            )
        return rows

    def slate(self, day: dt.date) -> list[dict[str, Any]]:
        """The day's slate as the gateway serves it, once the predictor has priced every line
        the ingestor published."""
        predictor, gateway = self.urls["predictor"], self.urls["gateway"]
        # The pre-game vectors price the lines posted before them: every schedule message
        # handled (its vectors published) first, or the count below could be taken before them.
        self._wait(
            "the features read the schedule",
            lambda: self.schedules_read() >= self.schedules_published,
        )
        self.vectors_consumed()
        self._wait(
            "the predictor consumed the lines",
            lambda: (
                metric_total(predictor, "statmuse_predictor_lines_total") >= self.lines_published
            ),
        )
        # A line that came before its player's pre-game vector is priced when the vector
        # comes (after the waits above, when the idle-time reconcile publishes it): until the
        # predictor has priced something of the day, "the gateway has every priced prop" would
        # hold with nothing priced. A day whose lines match no vector prices nothing: then
        # this gives up after the deadline, and the slate is what it is.
        if self.lines_today:
            try:
                self._wait(
                    "the predictor priced some of the day's lines",
                    lambda: (
                        metric_total(predictor, "statmuse_predictor_props_priced_total")
                        > self.priced_before
                    ),
                )
            except DemoError:
                self.say(f"{day}: none of the day's lines priced (no pre-game vector for them)")
        self._wait(
            "the gateway consumed the priced props",
            lambda: (
                metric_total(gateway, "statmuse_gateway_props_total")
                >= metric_total(predictor, "statmuse_predictor_props_priced_total")
            ),
        )
        response = self.gateway.get("/api/slate", params={"date": str(day), "limit": 1000})
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise ReplayError(f"slate: {response.status_code} {response.text}")
        rows = []
        for p in response.json()["props"]:
            best = p.get("best") or {}
            rows.append(
                {
                    "day": day,
                    **{k: p[k] for k in SLATE_FIELDS if k in p and k != "books"},
                    "books": len(p["books"]),
                    "best_book": best.get("book", ""),
                    "best_side": best.get("side", ""),
                    "best_price": best.get("price", ""),
                    "best_expected_value": best.get("expected_value", ""),
                }
            )
        return rows

    def night(self, day: dt.date) -> None:
        counts = self._ingest("backfill", "--from", str(day), "--to", str(day))
        self.games_published += counts["messages"]
        self.caught_up()

    def run_day(self, day: dt.date, props: set[Any]) -> tuple[list[Any], list[Any]]:
        self._timed("morning feeds", lambda: self.morning(day))
        asked = self._timed("asking the gateway", lambda: self.ask(day, props))
        slate = self._timed("reading the slate", lambda: self.slate(day))
        self._timed("box scores", lambda: self.night(day))
        self.progress.days += 1
        self.progress.asked += len(asked)
        self.progress.answered += sum(a["status"] == "ok" for a in asked)
        for a in asked:
            if a["status"] != "ok":
                self.progress.failed[a["error"].split(":")[0][:60] or a["status"]] += 1
        self.progress.slate += len(slate)
        return asked, slate


def for_the_game(result: dict[str, Any], day: dt.date) -> bool:
    """Whether a batch item is final for a game on `day`: answered from that game's pre-game
    vector, or refused for a reason waiting will not change (an unknown player, no game)."""
    if result["status"] == "ok":
        game = (result.get("prediction") or {}).get("game") or {}
        return bool(game.get("game_date") == str(day))
    return "comes once the games before it are played" not in (result.get("error") or "")


def write_csv(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _trainer(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("statmuse-trainer")
    return subprocess.run(
        [str(exe), *args], env=stack_env(stack), check=False, capture_output=True, text=True
    )


def build_dataset(stack: Stack, out: Path) -> Path:
    """The trainer's dataset from the game vectors it stored during the replay (the offline
    evaluation's input): its version directory."""
    result = _trainer(stack, "dataset", "--out", str(out))
    if result.returncode != 0:
        raise ReplayError(f"dataset failed ({result.returncode}): {result.stderr.strip()}")
    version = result.stdout.strip().splitlines()[-1].split()[-1]
    return out / version


def report(
    stack: Stack,
    *,
    answers: Path,
    slate: Path,
    dataset: Path,
    models: Path,
    lines: Path,
    start: dt.date,
    end: dt.date,
    write: Path | None,
    seconds: float,
    say: Say,
) -> int:
    """The trainer's `replay-report`; its exit code (1: a stat disagrees with evaluate)."""
    args = [
        "replay-report",
        *("--answers", str(answers), "--slate", str(slate), "--dataset", str(dataset)),
        *("--models", str(models), "--lines", str(lines)),
        *("--from", str(start), "--to", str(end), "--seconds", f"{seconds:.0f}"),
        *("--command", f"statmuse replay --from {start} --to {end}"),
    ]
    if write is not None:
        args += ["--write", str(write)]
    result = _trainer(stack, *args)
    say(result.stdout)
    if result.returncode not in (0, 1):
        raise ReplayError(f"replay-report failed ({result.returncode}): {result.stderr.strip()}")
    return result.returncode
