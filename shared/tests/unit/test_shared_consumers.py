"""The consumer shape every service uses (platform.consumers), through FastStream's
TestKafkaBroker: poison records and refused messages go to `<topic>.dlq` with the reason and
the original bytes, the rest reach the typed handler in order, and a handler error sends no
dead letter (the batch is redelivered whole)."""

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from statmuse_shared.contract.messages import DeadLetter, TrainRequested
from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.consumers import Refused, batch_subscriber, consumer_router

TOPIC = "test.commands.v1"


class Seen:
    def __init__(self) -> None:
        self.batches: list[list[TrainRequested]] = []
        self.dead: list[DeadLetter] = []
        self.refuse: set[str] = set()
        self.fail = False


@pytest.fixture
async def broker() -> AsyncIterator[tuple[Any, Seen]]:
    seen = Seen()
    router = consumer_router()

    async def handle(requests: list[TrainRequested]) -> list[Refused[TrainRequested]]:
        if seen.fail:
            raise RuntimeError("database down")
        seen.batches.append(requests)
        return [Refused(r, f"no such stat today: {r.event_id}") for r in requests
                if r.event_id in seen.refuse]  # fmt: skip

    batch_subscriber(router, TOPIC, group_id="trainer-commands", payload=TrainRequested)(handle)
    broker = make_broker("localhost:9092", client_id="test")
    broker.include_router(router)

    @broker.subscriber(f"{TOPIC}.dlq", group_id="probe")
    async def dead(letter: DeadLetter) -> None:
        seen.dead.append(letter)

    async with TestKafkaBroker(broker) as br:
        yield br, seen


def request(event_id: str) -> bytes:
    return (
        TrainRequested(event_id=event_id, stat="points", reason="admin").model_dump_json().encode()
    )


async def test_valid_messages_reach_the_handler_in_order(broker: tuple[Any, Seen]) -> None:
    br, seen = broker
    await br.publish_batch(request("a"), request("b"), request("c"), topic=TOPIC)
    assert [[r.event_id for r in b] for b in seen.batches] == [["a", "b", "c"]]
    assert seen.dead == []


async def test_poison_and_refused_messages_are_dead_lettered_with_why(
    broker: tuple[Any, Seen],
) -> None:
    br, seen = broker
    seen.refuse = {"b"}
    refused = request("b")
    wrong_version = request("v").replace(b'"schema_version":1', b'"schema_version":99')
    await br.publish_batch(request("a"), b"{oops", refused, wrong_version, topic=TOPIC)
    assert [[r.event_id for r in b] for b in seen.batches] == [["a", "b"]]
    reasons = [d.error for d in seen.dead]
    assert reasons[0].startswith("invalid TrainRequested: <root>: Invalid JSON")
    assert reasons[1] == "unsupported schema_version 99"
    assert reasons[2] == "no such stat today: b"
    assert [base64.b64decode(d.payload_b64) for d in seen.dead] == [
        b"{oops",
        wrong_version,
        refused,
    ]
    assert {d.consumer for d in seen.dead} == {"trainer-commands"}


async def test_a_batch_with_nothing_valid_does_not_reach_the_handler(
    broker: tuple[Any, Seen],
) -> None:
    br, seen = broker
    await br.publish_batch(b"[]", b"null", topic=TOPIC)
    assert seen.batches == []
    assert len(seen.dead) == 2


async def test_a_handler_error_sends_no_dead_letter(broker: tuple[Any, Seen]) -> None:
    br, seen = broker
    seen.fail = True
    with pytest.raises(RuntimeError, match="database down"):
        await br.publish_batch(request("a"), b"{oops", topic=TOPIC)
    # Nothing is dead-lettered: the batch will come again, poison record included.
    assert seen.dead == []
