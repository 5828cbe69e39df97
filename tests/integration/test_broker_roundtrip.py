"""Round trip through the real broker: a consumer group of two splits the partitions."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from statmuse_shared.platform.broker import ensure_topics

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
