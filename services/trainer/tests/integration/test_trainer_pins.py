"""Pinned versions against real PostgreSQL, the broker and an MLflow registry: the gateway's
pin commands (canary with a share, shadow, unpin) carried out by the trainer's own subscriber,
announced on nba.models.published.v1, and served by a ModelBook fed those events exactly as
each mode says; a pin the registry cannot make is a dead letter with the reason; the audit log
names who asked and what."""

import base64
import datetime as dt

import pytest

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter, ModelAliasRequested, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.serving import ModelBook, ab_bucket
from statmuse_shared.platform.broker import publish
from statmuse_trainer.app import build_runtime

from .test_trainer_model_commands import read_topic, registered
from .test_trainer_registry import version

pytestmark = pytest.mark.integration
DAY = dt.date(2024, 3, 12)
PLAYERS = range(1, 401)


def command(n: int, action: str, **pin: object) -> ModelAliasRequested:
    return ModelAliasRequested(
        event_id=f"pin-{n}", action=action, key="points", requested_by="apikey:ops", **pin
    )


def served(book: ModelBook) -> dict[int, str]:
    out = {}
    for pid in PLAYERS:
        model = book.route(Stat.POINTS, pid, DAY)
        assert model is not None
        out[pid] = model.info.version
    return out


async def test_canary_shadow_and_unpin_through_the_commands(
    database_url, kafka_bootstrap, tmp_path, unique
):
    store = LocalArtifactStore(tmp_path)
    settings = await registered(database_url, kafka_bootstrap, store, unique, "archived")
    commands = [
        command(1, "pin", version="v2", mode="canary", share=0.25),
        command(2, "pin", version="v2", mode="shadow"),
        command(3, "pin", version="v9", mode="shadow"),  # no such version: refused
        command(4, "unpin"),
        command(5, "pin", version="v1", mode="shadow"),  # production already: refused
    ]
    async with build_runtime(settings, store=store).running() as live:
        for c in commands:
            await publish(live.broker, c, topic=topics.MODEL_COMMANDS, key=b"points")
        events = [
            ModelPublished.model_validate_json(v)
            for v in await read_topic(kafka_bootstrap, topics.MODELS_PUBLISHED, 3)
        ]
        letters = [
            DeadLetter.model_validate_json(v)
            for v in await read_topic(kafka_bootstrap, topics.dead_letter(topics.MODEL_COMMANDS), 2)
        ]
    assert [(e.version, e.alias, e.mode, e.share) for e in events] == [
        ("v2", "staging", "canary", 0.25),
        ("v2", "staging", "shadow", None),
        ("v2", "archived", None, None),
    ]
    refused = {
        ModelAliasRequested.model_validate_json(base64.b64decode(d.payload_b64)).event_id: d.error
        for d in letters
    }
    assert "no model version v9" in refused["pin-3"]
    assert "production model already" in refused["pin-5"]

    # What a predictor or gateway serves at each step (A/B share off: only pins count).
    book = ModelBook(store=store)
    book.apply(version(store, "v1", "production", 7.0))
    book.apply(events[0])  # canary: a quarter of the pairs, by their hash
    canary = served(book)
    assert canary == {pid: "v2" if ab_bucket(pid, DAY) < 0.25 else "v1" for pid in PLAYERS}
    assert 0.15 < sum(v == "v2" for v in canary.values()) / len(PLAYERS) < 0.35
    book.apply(events[1])  # shadow: nobody is answered with it, every pair priced beside
    assert set(served(book).values()) == {"v1"}
    shadow = book.other(Stat.POINTS, 7, DAY)
    assert shadow is not None
    assert shadow.info.version == "v2"
    book.apply(events[2])  # unpinned
    assert book.staging == {}
    assert book.other(Stat.POINTS, 7, DAY) is None

    # The audit log: each move the commands made, with who asked and what it was.
    check = build_runtime(settings, store=store)
    async with check.running(consume=False), check.db.acquire() as conn:
        audit = await conn.fetch(
            "SELECT alias, version, requested_by, detail FROM registry.alias_history "
            "WHERE requested_by = 'apikey:ops' ORDER BY id"
        )
    assert [tuple(r) for r in audit] == [
        ("staging", "v2", "apikey:ops", "pin canary 0.25"),
        ("staging", "v2", "apikey:ops", "pin shadow"),
        ("archived", "v2", "apikey:ops", "unpin"),
    ]
