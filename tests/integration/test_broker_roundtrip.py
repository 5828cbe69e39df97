"""Round trip through the real broker: a consumer group of two splits the partitions; a
consumer's fetches tell it its lag."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from pydantic import BaseModel

from statmuse_shared.platform import lag
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.consumers import batch_subscriber, consumer_router

pytestmark = pytest.mark.integration

PARTITIONS = 6
MESSAGES = 120


async def test_group_of_two_splits_partitions_and_sees_every_message_once(infra, unique):
    topic, group = f"test.roundtrip.{unique}", f"test-group-{unique}"
    assert await ensure_topics(infra.kafka_bootstrap, [topic], partitions=PARTITIONS) == [topic]
    assert await ensure_topics(infra.kafka_bootstrap, [topic], partitions=PARTITIONS) == []

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = [f"player-{i % 30}:{i}".encode() for i in range(MESSAGES)]
        for value in sent:
            await producer.send(topic, key=value.split(b":")[0], value=value)
        await producer.flush()
    finally:
        await producer.stop()

    consumers = [
        AIOKafkaConsumer(
            topic,
            bootstrap_servers=infra.kafka_bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            heartbeat_interval_ms=300,
            session_timeout_ms=6000,
        )
        for _ in range(2)
    ]
    for c in consumers:
        await c.start()
    received: list[list[bytes]] = [[], []]
    deadline = time.monotonic() + 60
    try:
        # Poll until both members own partitions and every message arrived, or the deadline.
        while time.monotonic() < deadline:
            for i, c in enumerate(consumers):
                batch = await c.getmany(timeout_ms=200)
                for records in batch.values():
                    received[i].extend(r.value for r in records)
                if batch:
                    await c.commit()
            assigned = [c.assignment() for c in consumers]
            if sum(map(len, received)) >= MESSAGES and all(assigned):
                break
        assignments = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
    finally:
        await asyncio.gather(*(c.stop() for c in consumers))

    assert sorted(received[0] + received[1]) == sorted(sent), "every message exactly once"
    assert all(assignments), f"both members got partitions: {assignments}"
    assert sorted(assignments[0] + assignments[1]) == list(range(PARTITIONS))
    assert not set(assignments[0]) & set(assignments[1])
    # Keys stay on one partition, so one player's messages all went to one member.
    by_key: dict[bytes, set[int]] = {}
    for member, values in enumerate(received):
        for v in values:
            by_key.setdefault(v.split(b":")[0], set()).add(member)
    assert all(len(members) == 1 for members in by_key.values())


async def test_a_consumer_knows_its_lag_from_its_own_fetches(infra, unique):
    """The lag gauge's source on the real broker: the high watermark a fetch brings back."""
    topic = f"test.lag.{unique}"
    await ensure_topics(infra.kafka_bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(30):
            await producer.send(topic, value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"test-lag-{unique}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    lags: list[float | None] = []
    try:
        deadline = time.monotonic() + 30
        read = 0
        while read < 30 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10)
            records = [r for rs in batch.values() for r in rs]
            read += len(records)
            if records:
                lag.record(consumer, unique, [(r.topic, r.partition, r.offset) for r in records])
                lags.append(
                    REGISTRY.get_sample_value(
                        "statmuse_consumer_lag", {"group": unique, "topic": topic, "partition": "0"}
                    )
                )
    finally:
        await consumer.stop()
    assert read == 30
    assert lags[0] == 20  # ten read of thirty
    assert lags[-1] == 0
    assert lags == sorted(lags, reverse=True)


class Ping(BaseModel):
    n: int


async def test_every_batch_subscriber_sets_its_lag_gauge(infra, unique):
    """Through FastStream on the real broker: the gauge a service's consumers export."""
    topic, group = f"test.lag.sub.{unique}", f"test-lag-sub-{unique}"
    await ensure_topics(infra.kafka_bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(30):
            await producer.send(topic, value=Ping(n=i).model_dump_json().encode())
        await producer.flush()
    finally:
        await producer.stop()

    def gauge() -> float | None:
        labels = {"group": group, "topic": topic, "partition": "0"}
        return REGISTRY.get_sample_value("statmuse_consumer_lag", labels)

    seen: list[int] = []
    lags: list[float | None] = []
    done = asyncio.Event()
    router = consumer_router()

    @batch_subscriber(router, topic, group_id=group, payload=Ping, max_records=10)
    async def on_pings(pings: list[Ping]) -> None:
        seen.extend(p.n for p in pings)
        lags.append(gauge())
        if len(seen) >= 30:
            done.set()

    broker = KafkaBroker(infra.kafka_bootstrap)
    broker.include_router(router)
    async with broker:
        await broker.start()
        await asyncio.wait_for(done.wait(), timeout=60)
    assert sorted(seen) == list(range(30))
    assert lags[0] == 20  # the first batch: ten read of thirty
    assert lags[-1] == 0
