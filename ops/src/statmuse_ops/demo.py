"""`statmuse demo`: real data through the whole pipeline, then a real prediction.

On 2023-24 (the season with the books' lines) the demo ends on a replayed day (`run_tonight`):
the season up to the day before, then that day's schedule, availability and lines, priced into
a slate. Otherwise (`run`): ingest one bundled season, wait (by watching each service's own
metrics, with deadlines) until features, trainer, predictor and gateway have consumed it, ask
the trainer for the baseline models, wait until the gateway serves them, and show a sample
call.
"""

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from statmuse_ops.progress import Stalled, watch
from statmuse_ops.stack import Stack, stack_env
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import TrainRequested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.broker import make_broker, publish

Say = Callable[[str], None]


class DemoError(RuntimeError):
    pass


def metric_total(url: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples (matching labels) on a service's /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_until(what: str, check: Callable[[], bool], *, deadline_s: float, say: Say) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if check():
            say(f"ok: {what}")
            return
        time.sleep(0.25)
    raise DemoError(f"timed out after {deadline_s:.0f}s waiting for: {what}")


def ingest_command(data_dir: Path, season: str, summary_file: Path) -> list[str]:
    """The ingestor's backfill of a bundled season, writing its counts to `summary_file`."""
    exe = Path(sys.executable).with_name("statmuse-ingestor")
    return [
        str(exe),
        "backfill",
        "--source",
        "files",
        "--seasons",
        season,
        "--data-dir",
        str(data_dir),
        "--summary-json",
        str(summary_file),
    ]


def ingest(stack: Stack, data_dir: Path, season: str) -> dict[str, int]:
    summary_file = stack.run_dir / f"ingest-{uuid.uuid4().hex[:8]}.json"
    result = subprocess.run(
        ingest_command(data_dir, season, summary_file),
        env=stack_env(stack),
        check=False,
    )
    if result.returncode != 0:
        raise DemoError(f"ingest failed with exit code {result.returncode}")
    counts: dict[str, int] = json.loads(summary_file.read_text())
    return counts


def _tool(stack: Stack, tool: str, *args: str, what: str) -> str:
    """Run one of the services' commands against the stack; its output, or DemoError with its
    exit code and error output."""
    exe = Path(sys.executable).with_name(tool)
    result = subprocess.run(
        [str(exe), *args], env=stack_env(stack), check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise DemoError(f"{what} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def ingest_schedule(stack: Stack, data_dir: Path, season: str) -> None:
    """The season's schedule (derived from its box scores), so that a prediction can name a
    game by its date and opponent."""
    _tool(
        stack,
        "statmuse-ingestor",
        *("schedule", "--source", "files", "--seasons", season, "--data-dir", str(data_dir)),
        what="schedule",
    )


async def request_training(bootstrap: str, stats: list[Stat]) -> None:
    broker = make_broker(bootstrap, client_id="statmuse-demo")
    await broker.connect()
    try:
        for stat in stats:
            cmd = TrainRequested(
                event_id=str(uuid.uuid4()),
                stat=stat,
                model_kind="baseline",
                reason="admin",
                requested_by="statmuse demo",
            )
            await publish(broker, cmd, topic=topics.TRAIN_REQUESTS, key=stat.value.encode())
    finally:
        await broker.stop()


def import_models(stack: Stack, models_dir: Path) -> list[str]:
    """Register the shipped model bundles as production (the trainer's `import-model`)."""
    bundles = sorted(models_dir.glob("*.npz"))
    if not bundles:
        raise DemoError(f"no model bundles in {models_dir}")
    out = _tool(
        stack,
        "statmuse-trainer",
        *("import-model", *map(str, bundles), "--promote"),
        what="model import",
    )
    return [line.split(":")[0] for line in out.splitlines() if line.strip()]


def trained_on(models_dir: Path) -> set[str]:
    """The seasons the bundles' sidecars say their models were fitted or calibrated on."""
    seen: set[str] = set()
    for sidecar in models_dir.glob("*.json"):
        window = json.loads(sidecar.read_text()).get("training_window") or {}
        seen.update(str(s) for s in window.get("seasons", []))
    return seen


def run_tonight(
    stack: Stack,
    *,
    data_dir: Path,
    season: str,
    say: Say,
    models_dir: Path,
    tonight: dt.date,
    console: Console | None = None,
) -> dict[str, Any]:
    """End on a replayed day: the season up to the day before `tonight`, the shipped models,
    then that morning's schedule, availability and lines, priced into the slate (the first
    day of `statmuse replay`, without the night)."""
    from statmuse_ops.replay import Replay

    replay = Replay(stack, data_dir=data_dir, season=season, out=stack.run_dir, say=say)
    replay.verbose = True
    replay.console = console
    say(f"ingesting {season} up to {tonight - dt.timedelta(days=1)} from {data_dir}")
    replay.prepare(tonight, models_dir)
    replay.morning(tonight)
    say(f"{tonight}: its schedule, availability and the books' lines published")
    slate = replay.slate(tonight)
    say(f"ok: {len(slate)} props of {tonight} priced and on the slate")
    seen = trained_on(models_dir)
    if season in seen:
        say(
            f"note: the served models were fitted on {', '.join(sorted(seen))}, this day's "
            "season included (the production refit): this slate shows how the product works, "
            "not how well it predicts; docs/EVALUATION.md scores models on seasons they never "
            "saw"
        )
    body = {"player": "LeBron James", "stat": "points", "line": 25.5, "game_date": str(tonight)}
    answer = replay.gateway.post("/api/predict", json=body)
    if answer.status_code != 200:
        raise DemoError(f"sample prediction failed: {answer.status_code} {answer.text}")
    return {
        "request": body,
        "response": answer.json(),
        "gateway": replay.urls["gateway"],
        "tonight": tonight,
        "slate": slate,
    }


def run(
    stack: Stack,
    *,
    data_dir: Path,
    season: str,
    say: Say,
    models_dir: Path | None = None,
    deadline_s: float = 300,
    console: Console | None = None,
) -> dict[str, Any]:
    """`models_dir`: shipped bundles to serve; None asks the trainer for baselines instead.
    `console`: where the waits draw their progress bars. A wait for a service to catch up
    fails only when its counter has not moved for `deadline_s`."""
    urls = {s.name: s.url for s in stack.started if s.url.startswith("http")}
    missing = {"features", "trainer", "predictor", "gateway"} - urls.keys()
    if missing:
        raise DemoError(f"services not running: {sorted(missing)}")
    say(f"ingesting {season} from {data_dir}")
    counts = ingest(stack, data_dir, season)
    env = stack_env(stack)
    published = counts["messages"]  # a team box is on every partition
    say(
        f"{counts['published']} box scores (players and teams) published on {topics.GAMES_RAW} "
        f"as {published} messages (each team box to every partition)"
    )
    ingest_schedule(stack, data_dir, season)
    say(f"the {season} schedule published on {topics.SCHEDULE}")

    def caught_up(what: str, value: Callable[[], float], target: float | None, **kw: Any) -> None:
        try:
            watch(what, value, target, stall_s=deadline_s, console=console, **kw)
        except Stalled as exc:
            raise DemoError(str(exc)) from None
        say(f"ok: {what}")

    # Every message (player and team box scores) is counted once under some outcome.
    features = urls["features"]
    caught_up(
        f"features consumed {published} messages",
        partial(metric_total, features, "statmuse_features_messages_total"),
        published,
    )
    # Every partition carries each team box before its later games, so a backlog leaves no
    # vector stale; one that a late team box (a correction) left stale is recomputed once idle.
    caught_up(
        "features reconciled any late team box scores",
        partial(metric_total, features, "statmuse_features_vectors_total"),
        None,
        done=lambda: metric_total(features, "statmuse_features_stale_seasons") == 0,
    )
    vectors = metric_total(features, "statmuse_features_vectors_total")
    for name in ("trainer", "predictor", "gateway"):
        caught_up(
            f"{name} consumed {int(vectors)} feature vectors",
            partial(metric_total, urls[name], f"statmuse_{name}_vectors_total"),
            vectors,
        )

    stats = list(Stat)
    if models_dir is not None:
        versions = import_models(stack, models_dir)
        say(f"registered the shipped models: {', '.join(versions)}")
    else:
        asyncio.run(request_training(env["KAFKA_BOOTSTRAP_SERVERS"], stats))
        say(f"asked the trainer for baseline models: {', '.join(s.value for s in stats)}")

    def served() -> bool:
        r = httpx.get(f"{urls['gateway']}/api/models", timeout=5)
        return r.status_code == 200 and len(
            {m["stat"] for m in r.json() if m["alias"] == "production"}
        ) == len(stats)

    wait_until("gateway serves a production model per stat", served, deadline_s=deadline_s, say=say)
    wait_until(
        "predictor serves them too",
        lambda: metric_total(urls["predictor"], "statmuse_predictor_models_loaded") >= len(stats),
        deadline_s=deadline_s,
        say=say,
    )
    body = {"player": "LeBron James", "stat": "points", "line": 25.5}
    answer = httpx.post(f"{urls['gateway']}/api/predict", json=body, timeout=10)
    if answer.status_code != 200:
        raise DemoError(f"sample prediction failed: {answer.status_code} {answer.text}")
    return {"request": body, "response": answer.json(), "gateway": urls["gateway"]}


def sample_curl(gateway: str, body: dict[str, Any]) -> str:
    return (
        f"curl -s -X POST {gateway}/api/predict -H 'content-type: application/json' "
        f"-d '{json.dumps(body)}'"
    )
