"""The walking skeleton end to end: `statmuse up`, one real season through every service, the
shipped models registered, and predictions checked against the same bundle applied here to
features computed independently from the data file (no broker, no database)."""

import asyncio
import csv
import gzip
import math
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_ops import demo, stack
from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import Message, PredictionMade, TrainRequested
from statmuse_shared.models.count import CountModel
from statmuse_shared.platform.broker import make_broker, publish

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "nba"
MODELS = REPO / "models"
SEASON = "2023-24"
STATS = ("points", "rebounds", "assists", "threes", "pra")


def expected_mean(next_game_vectors, player: str, stat: str) -> float:
    """The shipped bundle's predicted mean for the player's next game, on the vector the shared
    engine computes straight from the data files (conftest.next_game_vectors)."""
    model = CountModel.from_bytes((MODELS / f"{stat}.npz").read_bytes())
    (vector,) = next_game_vectors((player,))
    return model.predict(vector.features, vector.player_id).distribution.mean


def regulars(min_games: int = 40) -> list[str]:
    counts: dict[str, int] = {}
    with gzip.open(DATA / "player_game_logs" / f"{SEASON}.csv.gz", "rt", newline="") as f:
        for r in csv.DictReader(f):
            counts[r["PLAYER_NAME"]] = counts.get(r["PLAYER_NAME"], 0) + 1
    names = [n for n, c in counts.items() if c >= min_games]
    # Two players share a name in some seasons; keep names that are unambiguous.
    return sorted(names)


async def on_topic(bootstrap: str, topic: str, keep: Callable[[bytes], Any | None]) -> list[Any]:
    """What `keep` makes of each record of `topic` (None: not wanted), read from the start
    until at least one is kept and the topic has been quiet for 2 s (so the newest is in);
    AssertionError after 180 s with none. Reading a whole season of vectors back from the
    start takes most of a minute on a busy 2-core machine (issue 18: the vectors are large),
    and once took longer than 60 s."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline, quiet = time.monotonic() + 180, 0
        while not (found and quiet >= 4):
            assert time.monotonic() < deadline, f"nothing wanted on {topic} after 180 s"
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            quiet = 0 if batch else quiet + 1
            found += [
                x for records in batch.values() for r in records if (x := keep(r.value)) is not None
            ]
    finally:
        await consumer.stop()
    return found


async def send(bootstrap: str, topic: str, message: Message, *, key: bytes) -> None:
    broker = make_broker(bootstrap, client_id="e2e")
    await broker.connect()
    try:
        await publish(broker, message, topic=topic, key=key)
    finally:
        await broker.stop()


def prediction_of(player_id: int, stat: str) -> Callable[[bytes], PredictionMade | None]:
    def keep(value: bytes) -> PredictionMade | None:
        p = PredictionMade.model_validate_json(value)
        return p if (p.player_id, p.stat.value) == (player_id, stat) else None

    return keep


def next_vector_of(player_id: int, as_of: str) -> Callable[[bytes], dict[str, Any] | None]:
    """The features service's "next" vector for the player as of `as_of` (records packed)."""

    def keep(value: bytes) -> dict[str, Any] | None:
        v = vectors.decode(value)
        wanted = (v.player_id, v.as_of.isoformat(), v.kind) == (player_id, as_of, "next")
        return dict(v.features) if wanted else None

    return keep


def test_one_season_flows_end_to_end(running_stack, next_game_vectors):
    s = running_stack
    assert {p.name for p in s.started} >= {
        "broker",
        "ingestor",
        "features",
        "trainer",
        "predictor",
        "gateway",
    }
    result = demo.run(s, data_dir=DATA, season=SEASON, say=lambda _: None, models_dir=MODELS)
    gateway = result["gateway"]

    lebron = result["response"]
    assert lebron["player"] == "LeBron James"
    # The API rounds to 4 decimals. The team table built here from the raw CSV can differ a
    # little from the ingestor's validated one (opponent ranks for the vs-top-10 splits), so
    # the second check, on any player and stat, allows a relative 0.2%.
    assert lebron["predicted_value"] == pytest.approx(
        expected_mean(next_game_vectors, "LeBron James", "points"), abs=1e-4
    )
    total = lebron["over_probability"] + lebron["under_probability"] + lebron["push_probability"]
    assert total == pytest.approx(1.0, abs=1e-9)
    shipped = CountModel.from_bytes((MODELS / "points.npz").read_bytes()).header.name
    assert lebron["model_version"].endswith(shipped)

    # A second, randomly chosen regular and stat: nothing about LeBron is special-cased. The
    # answer is the shipped bundle on the vector the pipeline published (to the API's rounding),
    # and that vector is the one computed here from the files, except for the vs-top/bottom-10
    # splits: which opponents rank top 10 on a date depends on the team table, which the
    # ingestor validates and this test reads raw. A tree model can jump on a small difference
    # there, so those features are compared loosely and the answer on the stored vector.
    rng = random.Random(os.environ.get("PYTEST_SEED", "skeleton"))
    player, stat = rng.choice(regulars()), rng.choice(STATS)
    r = httpx.post(
        f"{gateway}/api/predict", json={"player": player, "stat": stat, "line": 4.5}, timeout=10
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    bootstrap = s.env["KAFKA_BOOTSTRAP_SERVERS"]
    stored = asyncio.run(
        on_topic(bootstrap, topics.FEATURES, next_vector_of(answer["player_id"], answer["as_of"]))
    )[-1]
    model = CountModel.from_bytes((MODELS / f"{stat}.npz").read_bytes())
    served = model.predict(stored, answer["player_id"]).distribution.mean
    assert answer["predicted_value"] == pytest.approx(served, abs=1e-4)
    (independent,) = next_game_vectors((player,))
    assert set(stored) == set(independent.features)
    for name, value in independent.features.items():
        if "_vs_top10_" in name or "_vs_bottom10_" in name:
            continue
        if value is None:
            assert stored[name] is None, name
        else:
            assert stored[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert served == pytest.approx(expected_mean(next_game_vectors, player, stat), rel=0.05)

    # The predictor published the same number on the prediction topic.
    published = asyncio.run(
        on_topic(bootstrap, topics.PREDICTIONS, prediction_of(lebron["player_id"], "points"))
    )
    assert math.isclose(published[-1].predicted_value, lebron["predicted_value"], abs_tol=1e-4)

    # MLflow on the stack: every shipped bundle is a model version whose run holds its
    # metrics and files, and the champion serves; the gateway links each to its run.
    from mlflow import MlflowClient

    ml = MlflowClient(s.env["MLFLOW_TRACKING_URI"], s.env["MLFLOW_TRACKING_URI"])
    champion = ml.get_model_version_by_alias("statmuse-points", "champion")
    assert champion.tags["statmuse.version"] == lebron["model_version"]
    run = ml.get_run(champion.run_id)
    assert run.data.metrics["validation.brier"] > 0
    assert {a.path for a in ml.list_artifacts(champion.run_id)} >= {"bundle", "metadata.json"}
    listed = httpx.get(f"{gateway}/api/models", timeout=10).json()
    assert all(m["run_url"] and champion.run_id in m["run_url"] for m in listed
               if m["version"] == lebron["model_version"])  # fmt: skip

    # A training run on the stack (a baseline asked of the running trainer, as the schedule
    # or an operator would) appears in MLflow with its metrics and its bundle.
    request = TrainRequested(
        event_id=f"e2e-baseline-{os.getpid()}", stat="points", model_kind="baseline",
        reason="manual", promote=False,
    )  # fmt: skip
    asyncio.run(send(bootstrap, topics.TRAIN_REQUESTS, request, key=b"points"))
    deadline = time.monotonic() + 120
    baseline = []
    while time.monotonic() < deadline and not baseline:
        baseline = [
            v
            for v in ml.search_model_versions("name = 'statmuse-points'")
            if v.tags.get("statmuse.model_type") == "rolling_mean"
        ]
        time.sleep(0.5)
    assert baseline, "the baseline's training run never reached MLflow"
    trained = ml.get_run(baseline[0].run_id)
    assert trained.data.metrics["validation.mae"] > 0
    assert [a.path for a in ml.list_artifacts(baseline[0].run_id, "bundle")]
    assert ml.get_registered_model("statmuse-points").aliases["challenger"] == baseline[0].version

    # Bad input is refused with a reason, an unknown player gets suggestions.
    assert (
        httpx.post(
            f"{gateway}/api/predict", json={"player": "LeBron James", "stat": "dunks", "line": 1.5}
        ).status_code
        == 422
    )
    unknown = httpx.post(
        f"{gateway}/api/predict", json={"player": "Lebron Jaems", "stat": "points", "line": 25.5}
    )
    assert unknown.status_code == 404
    assert "LeBron James" in unknown.json()["suggestions"]

    # SIGTERM drains: the features service stops its consumer, closes its pool and exits.
    features = s.get("features")
    assert features is not None
    os.kill(features.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and features.is_running():
        time.sleep(0.05)
    assert not features.is_running()
    log = Path(features.log or "").read_text()
    assert "Application shutdown complete" in log
    assert "Traceback" not in log

    # Killing one service leaves the others up, and status says which one is down.
    victim = s.get("predictor")
    assert victim is not None
    os.kill(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and victim.is_running():
        time.sleep(0.05)
    states = {row["name"]: row["state"] for row in stack.status(s)}
    assert states["predictor"] == "down"
    assert all(states[n] == "ready" for n in ("ingestor", "trainer", "gateway"))
