"""Kafka plumbing shared by every service: the broker factory, topic creation and publishing
(one message, or many pipelined with a deadline; JSON unless told another encoding). Consuming
is in `consumers`."""

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Final, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import BaseModel

from statmuse_shared.contract import topics
from statmuse_shared.contract.encoding import JSON, Encoding
from statmuse_shared.platform.settings import KafkaAuth

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

# A declared publisher (`router.publisher(topic, ...)`, which the AsyncAPI document lists), or
# the broker itself for a one-off message to a topic named at the call.
Publisher = DefaultPublisher | KafkaBroker

# Producer batches per partition: up to this many bytes, waiting up to this long to fill one.
# aiokafka's default (16 KiB, no wait) held two or three JSON feature vectors (five packed
# ones), so a backlog of vectors became one produce request per few messages, each
# acknowledged by the broker: most of the broker's CPU and the features service's time went
# there.
MAX_BATCH_BYTES = 512 * 1024
LINGER_MS = 5
# Each batch compressed (Kafka 2.1+ and the local broker store it as sent; consumers
# decompress): the packed vectors, and the JSON of predictions and box scores, take a broker
# that keeps every message (the local one, in memory) a fraction of the memory and traffic.
COMPRESSION: Final = "zstd"


def security(auth: KafkaAuth | None) -> BaseSecurity | None:
    """FastStream's security settings for these credentials (None: PLAINTEXT)."""
    if auth is None:
        return None
    context = (
        ssl.create_default_context(cafile=auth.cafile) if auth.protocol == "SASL_SSL" else None
    )
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[auth.mechanism](auth.username, auth.password, ssl_context=context)


def client_settings(auth: KafkaAuth | None) -> dict[str, Any]:
    """aiokafka's keyword arguments for these credentials (for the admin clients)."""
    return parse_security(security(auth))


def make_broker(
    bootstrap_servers: str, *, client_id: str, auth: KafkaAuth | None = None
) -> KafkaBroker:
    """A FastStream Kafka broker. Producers wait for all in-sync replicas (no silent loss).
    With `auth`, it logs in as that service's user (SASL)."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=security(auth),
        acks="all",
        enable_idempotence=False,  # tansu (local broker) lacks idempotent producer support
        max_batch_size=MAX_BATCH_BYTES,
        linger_ms=LINGER_MS,
        compression_type=COMPRESSION,
        # On shutdown, wait this long for handlers in flight to finish (then offsets commit).
        graceful_timeout=15.0,
        logger=logging.getLogger(f"{client_id}.broker"),
    )


async def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    *,
    partitions: int = topics.DEFAULT_PARTITIONS,
    auth: KafkaAuth | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="statmuse-admin", **client_settings(auth)
    )
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


async def partition_count(
    bootstrap_servers: str, topic: str, *, auth: KafkaAuth | None = None
) -> int:
    """How many partitions `topic` has, from the broker's metadata (the topic must exist)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="statmuse-admin", **client_settings(auth)
    )
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    count = len(described["partitions"])
    if described["error_code"] or not count:
        raise TopicMissing(
            f"topic {topic!r} has no partitions on the broker (error code "
            f"{described['error_code']}): create the topics first (`statmuse up` does)"
        )
    return count


class TopicMissing(LookupError):
    """A topic the caller must publish to by partition does not exist on the broker."""


async def publish(publisher: Publisher, message: BaseModel, *, key: bytes, topic: str = "") -> None:
    """One message as JSON, acknowledged. `publisher`: a router's declared publisher (its topic),
    or a broker with `topic`."""
    await publisher.publish(
        JSON.encode(message), topic, key=key, headers={"content-type": JSON.content_type}
    )


class PublishTimeout(TimeoutError):
    """The broker did not acknowledge in time; what was acknowledged before is counted."""


async def publish_many(
    publisher: Publisher,
    items: Sequence[tuple[bytes, M]],
    *,
    topic: str = "",
    encoding: Encoding[M] = JSON,
    partitions: Sequence[int | None] | None = None,
    chunk: int = 2000,
    ack_seconds: float = 120.0,
) -> int:
    """Publish (key, message) pairs through `publisher` in order, pipelined, waiting for every
    acknowledgement (`topic`: only with a broker for a publisher); each record's value and
    content-type header as `encoding` says (the feature vectors: `vectors.PACKED`).
    `partitions`, one per item: the partition to send it to (None: the key's).

    Per-key order holds because one producer sends to a partition in call order. Each chunk
    must be acknowledged within `ack_seconds`, else PublishTimeout: a caller with an outbox
    (the ingestor) leaves the rest unpublished for the next run instead of waiting forever
    on a broker that is gone.
    """
    if partitions is not None and len(partitions) != len(items):
        raise ValueError(f"{len(partitions)} partitions for {len(items)} messages")
    sent = 0
    for start in range(0, len(items), chunk):
        pending: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(ack_seconds):
                for i in range(start, min(start + chunk, len(items))):
                    key, message = items[i]
                    result = await publisher.publish(
                        encoding.encode(message),
                        topic,
                        key=key,
                        partition=None if partitions is None else partitions[i],
                        headers={"content-type": encoding.content_type},
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
