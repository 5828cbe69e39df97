"""Kafka plumbing shared by every service: the broker factory, topic creation, dead letters.

Handlers take the raw records (`records(msg)`) and validate them with `decode_records`, so a
poison message becomes a dead letter with its reason and original bytes instead of an
exception that would stall the partition.
"""

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel, TypeAdapter, ValidationError

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import SCHEMA_VERSION, DeadLetter

log = logging.getLogger(__name__)

M = TypeVar("M")
SUPPORTED_VERSIONS = frozenset({SCHEMA_VERSION})


def make_broker(bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    """A FastStream Kafka broker. Producers wait for all in-sync replicas (no silent loss)."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,  # tansu (local broker) lacks idempotent producer support
        # On shutdown, wait this long for handlers in flight to finish (then offsets commit).
        graceful_timeout=15.0,
        logger=logging.getLogger(f"{client_id}.broker"),
    )


async def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    *,
    partitions: int = topics.DEFAULT_PARTITIONS,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="statmuse-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
            except TopicAlreadyExistsError:
                log.info("topics created concurrently", extra={"topics": missing})
        return missing
    finally:
        await admin.close()


@dataclass(frozen=True, slots=True)
class Record:
    """What a handler needs of a consumed record."""

    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    value: bytes

    @property
    def log_extra(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


def records(raw_message: Any) -> list[Record]:
    """The consumed records behind a FastStream message (single or batch)."""
    raw = raw_message if isinstance(raw_message, list | tuple) else [raw_message]
    return [
        Record(
            topic=r.topic,
            partition=getattr(r, "partition", None),
            offset=getattr(r, "offset", None),
            key=r.key,
            value=r.value if isinstance(r.value, bytes) else bytes(r.value or b""),
        )
        for r in raw
    ]


def dead_letter(record: Record, *, error: str, consumer: str) -> DeadLetter:
    return DeadLetter(
        original_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else record.key.decode("utf-8", "replace"),
        payload_b64=base64.b64encode(record.value).decode("ascii"),
        error=error[:2000],
        consumer=consumer,
    )


def decode_records(
    batch: Sequence[Record],
    model: type[M] | TypeAdapter[M],
    *,
    consumer: str,
    supported_versions: frozenset[int] = SUPPORTED_VERSIONS,
) -> tuple[list[tuple[Record, M]], list[tuple[Record, DeadLetter]]]:
    """Split a batch into valid messages and dead letters (bad JSON, schema, unknown version)."""
    adapter: TypeAdapter[M] = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    name = getattr(model, "__name__", "message")
    good: list[tuple[Record, M]] = []
    bad: list[tuple[Record, DeadLetter]] = []
    for record in batch:
        try:
            message = adapter.validate_json(record.value)
        except ValidationError as exc:
            errors = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors()[:10]
            )
            bad.append(
                (record, dead_letter(record, error=f"invalid {name}: {errors}", consumer=consumer))
            )
            continue
        version = getattr(message, "schema_version", None)
        if version is not None and version not in supported_versions:
            bad.append(
                (
                    record,
                    dead_letter(
                        record, error=f"unsupported schema_version {version}", consumer=consumer
                    ),
                )
            )
            continue
        good.append((record, message))
    return good, bad


async def publish_dead_letters(
    broker: KafkaBroker, letters: Sequence[tuple[Record, DeadLetter]]
) -> None:
    for record, letter in letters:
        log.warning("dead-lettered: %s", letter.error, extra=record.log_extra)
        await broker.publish(
            letter.model_dump_json().encode(),
            topics.dead_letter(record.topic),
            key=record.key,
            headers={"content-type": "application/json"},
        )


async def publish_model(broker: KafkaBroker, message: BaseModel, *, topic: str, key: bytes) -> None:
    await broker.publish(
        message.model_dump_json().encode(),
        topic,
        key=key,
        headers={"content-type": "application/json"},
    )


class PublishTimeout(TimeoutError):
    """The broker did not acknowledge in time; what was acknowledged before is counted."""


async def publish_many(
    broker: KafkaBroker,
    items: Sequence[tuple[str, bytes, BaseModel]],
    *,
    chunk: int = 2000,
    ack_seconds: float = 120.0,
) -> int:
    """Publish (topic, key, message) in order, pipelined, waiting for every acknowledgement.

    Per-key order holds because one producer sends to a partition in call order. Each chunk
    must be acknowledged within `ack_seconds`, else PublishTimeout: a caller with an outbox
    (the ingestor) leaves the rest unpublished for the next run instead of waiting forever
    on a broker that is gone.
    """
    sent = 0
    for start in range(0, len(items), chunk):
        pending: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(ack_seconds):
                for topic, key, message in items[start : start + chunk]:
                    result = await broker.publish(
                        message.model_dump_json().encode(),
                        topic,
                        key=key,
                        headers={"content-type": "application/json"},
                        no_confirm=True,
                    )
                    if isinstance(result, asyncio.Future):
                        pending.append(result)
                for future in pending:
                    await future
        except TimeoutError:
            for future in pending:  # read every outcome: no "exception never retrieved"
                if future.done() and not future.cancelled():
                    future.exception()
                else:
                    future.cancel()
            raise PublishTimeout(
                f"the broker did not acknowledge {len(items) - sent} of {len(items)} messages "
                f"within {ack_seconds:g} s"
            ) from None
        sent += min(chunk, len(items) - start)
    return sent


Handle = Callable[[list[tuple[Record, Any]]], Awaitable[list[tuple[Record, DeadLetter]] | None]]


def subscribe(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    model: Any,
    handle: Handle,
    max_records: int = 1000,
    listener: Any = None,
) -> Any:
    """Every consumer's shape: a batch in, poison messages to `<topic>.dlq` with the reason,
    the valid ones to `handle` (which may dead-letter more, e.g. commands it must refuse).
    `listener`: an aiokafka ConsumerRebalanceListener told of the group's assignments.
    Returns the subscriber (its `.consumer` is the running aiokafka consumer).

    Offsets commit only after `handle` returns (at-least-once); an unexpected error leaves them
    uncommitted, so the batch is redelivered and `handle` must be idempotent."""
    subscriber = broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        heartbeat_interval_ms=1000,
        title=f"{group_id}:{topic}",
        listener=listener,
    )

    @subscriber
    async def consume(msg: KafkaMessage) -> None:
        good, bad = decode_records(records(msg.raw_message), model, consumer=group_id)
        if good:
            bad.extend(await handle(good) or [])
        await publish_dead_letters(broker, bad)

    return subscriber
