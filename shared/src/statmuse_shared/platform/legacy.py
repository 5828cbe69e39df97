"""The consumer and runtime helpers of before the typed runtimes (dict state, handlers over
`(Record, message)` tuples). Kept only until every service has moved to `consumers` and
`runtime`; nothing new uses it."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel
from starlette.applications import Starlette

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter
from statmuse_shared.platform.broker import PublishTimeout, make_broker
from statmuse_shared.platform.consumers import Record, decode_records, records
from statmuse_shared.platform.db import create_pool
from statmuse_shared.platform.http import worker_app
from statmuse_shared.platform.settings import BaseServiceSettings

log = logging.getLogger(__name__)
M = TypeVar("M")


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


Register = Callable[[KafkaBroker, dict[str, Any]], None]


@dataclass
class Runtime:
    """A service's long-lived resources: the broker, the pool (opened in `lifespan`) and the
    state its handlers share, plus the readiness check."""

    broker: KafkaBroker
    state: dict[str, Any]
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]]
    ready: Callable[[], Awaitable[dict[str, bool]]]


def build_runtime(
    *,
    service: str,
    settings: BaseServiceSettings,
    register: Register,
    state: dict[str, Any] | None = None,
    on_start: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    consume: bool = True,
) -> Runtime:
    """With `consume=False` the broker only connects for publishing (no subscribers start)."""
    broker = make_broker(settings.kafka_bootstrap_servers, client_id=service)
    shared_state: dict[str, Any] = {} if state is None else state
    shared_state["broker"] = broker
    register(broker, shared_state)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        shared_state["pool"] = await create_pool(settings.dsn, max_size=4)
        try:
            if on_start is not None:
                await on_start(shared_state)
            await (broker.start() if consume else broker.connect())
            yield
        finally:
            # Stopping the broker lets the handler in hand finish and commits its offsets.
            await broker.stop()
            await shared_state["pool"].close()

    async def ready() -> dict[str, bool]:
        pool = shared_state.get("pool")
        return {
            "postgres": pool is not None and await pool.fetchval("SELECT 1") == 1,
            "kafka": await broker.ping(timeout=2),
        }

    return Runtime(broker, shared_state, lifespan, ready)


def consumer_app(
    *,
    service: str,
    settings: BaseServiceSettings,
    register: Register,
    state: dict[str, Any] | None = None,
    consume: bool = True,
) -> Starlette:
    """The app of a service whose work is Kafka subscribers (plus /health, /ready, /metrics)."""
    rt = build_runtime(
        service=service, settings=settings, register=register, state=state, consume=consume
    )
    app = worker_app(service=service, ready=rt.ready, lifespan=rt.lifespan)
    app.state.service_state = rt.state
    return app
