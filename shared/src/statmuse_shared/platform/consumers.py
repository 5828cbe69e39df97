"""Consuming, the same shape for every consumer, FastStream-native.

A service's handlers are typed functions registered on a `KafkaRouter` made by
`consumer_router()`:

    batch_subscriber(router, topics.TRAIN_REQUESTS, group_id="trainer", payload=TrainRequested)(
        on_train_requested
    )

    async def on_train_requested(requests: list[TrainRequested], rt: TrainerRuntime) -> None:
        ...

Each batch is decoded record by record (`DeadLetterDecoder`): a record that is not JSON,
breaks the schema or carries an unknown `schema_version` never reaches the handler. Records
that are not JSON (the packed vectors of `topics.FEATURES`, read by `vectors_subscriber`) are
read by the `decode` function the subscriber is given, and one it cannot read is held back the
same way. Once the handler has processed the rest, the router's `DeadLetterMiddleware` sends
each such record to `<topic>.dlq` as a `DeadLetter` with the reason and the original bytes. A
handler can refuse messages it cannot carry out (a command for something that does not exist)
by returning `Refused(message, reason)` items; they go to the dead-letter topic the same way.

Each batch also sets the consumer's lag gauge (`lag.record`: per partition, the high watermark
of the fetch minus the next offset to read).

Offsets commit only after the handler returns and its dead letters are sent
(`AckPolicy.NACK_ON_ERROR`): an unexpected error (PostgreSQL down) leaves the batch
uncommitted, so it is redelivered and handlers must be idempotent.
"""

import base64
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRebalanceListener
from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy, BaseMiddleware
from pydantic import TypeAdapter, ValidationError

from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import SCHEMA_VERSION, DeadLetter, FeaturesComputed
from statmuse_shared.platform import lag

log = logging.getLogger(__name__)

M = TypeVar("M")
SUPPORTED_VERSIONS = frozenset({SCHEMA_VERSION})

Decode = Callable[[bytes], M]
"""A record value to its message, or a ValueError saying why it cannot be one (pydantic's
ValidationError is a ValueError): the reason its dead letter gives."""


@dataclass(frozen=True, slots=True)
class Record:
    """What dead-lettering needs of a consumed record."""

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


def _reason(exc: ValueError) -> str:
    """A decode error in one line: a ValidationError's first errors with where they are."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors()[:10]
        )
    return str(exc)


def decode_records(
    batch: Sequence[Record],
    model: type[M] | TypeAdapter[M],
    *,
    consumer: str,
    name: str | None = None,
    supported_versions: frozenset[int] = SUPPORTED_VERSIONS,
    decode: Decode[M] | None = None,
) -> tuple[list[tuple[Record, M]], list[tuple[Record, DeadLetter]]]:
    """Split a batch into valid messages and dead letters (undecodable, bad schema, unknown
    version). Each value is `model` as JSON unless `decode` reads it; `name` names the message
    in the reasons (default: the model's class name)."""
    if decode is None:
        adapter: TypeAdapter[M] = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        decode = adapter.validate_json
    name = name or getattr(model, "__name__", "message")
    good: list[tuple[Record, M]] = []
    bad: list[tuple[Record, DeadLetter]] = []
    for record in batch:
        try:
            message = decode(record.value)
        except ValueError as exc:
            error = f"invalid {name}: {_reason(exc)}"
            bad.append((record, dead_letter(record, error=error, consumer=consumer)))
            continue
        version = getattr(message, "schema_version", None)
        if version is not None and version not in supported_versions:
            error = f"unsupported schema_version {version}"
            bad.append((record, dead_letter(record, error=error, consumer=consumer)))
            continue
        good.append((record, message))
    return good, bad


@dataclass(frozen=True, slots=True)
class Refused(Generic[M]):
    """A valid message the handler will not carry out, and why (sent to the dead letters)."""

    message: M
    reason: str


@dataclass
class _Batch:
    """The batch in hand, between its decoder and the middleware (one per consumed batch)."""

    consumer: str = ""
    dead_letters: DefaultPublisher | None = None
    letters: list[tuple[Record, DeadLetter]] = field(default_factory=list)
    records: dict[int, Record] = field(default_factory=dict)  # id(message) -> its record


_BATCH: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "statmuse_batch", default=None
)


class DeadLetterDecoder:
    """A subscriber's decoder: the batch's valid messages, in order; the rest are noted for
    the dead-letter topic. `decode`: how to read a record's value (default: `payload` as
    JSON)."""

    def __init__(
        self,
        payload: Any,
        *,
        consumer: str,
        dead_letters: DefaultPublisher,
        decode: Decode[Any] | None = None,
    ) -> None:
        self.adapter: TypeAdapter[Any] = TypeAdapter(payload)
        self.name = getattr(payload, "__name__", None) or "message"
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.decode = decode

    async def __call__(self, msg: StreamMessage[Any]) -> list[Any]:
        batch_records = records(msg.raw_message)
        lag.record(
            getattr(msg, "consumer", None),
            self.consumer,
            [(r.topic, r.partition, r.offset) for r in batch_records],
        )
        good, bad = decode_records(
            batch_records,
            self.adapter,
            consumer=self.consumer,
            name=self.name,
            decode=self.decode,
        )
        batch = _BATCH.get()
        if batch is None:
            raise RuntimeError("a DeadLetterDecoder needs the router's DeadLetterMiddleware")
        batch.consumer, batch.dead_letters = self.consumer, self.dead_letters
        batch.letters.extend(bad)
        batch.records.update((id(message), record) for record, message in good)
        return [message for _, message in good]


class DeadLetterMiddleware(BaseMiddleware):
    """Around every handler of a `consumer_router`: decode first (a batch with nothing valid
    does not reach the handler), then dead-letter what did not decode and what the handler
    refused. An error from the handler or from publishing propagates (the batch is
    redelivered)."""

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        batch = _Batch()
        token = _BATCH.set(batch)
        try:
            decoded = await msg.decode()  # cached: the handler's own decode reads it back
            if batch.dead_letters is None:  # not a batch_subscriber: nothing to add
                return await call_next(msg)
            result = await call_next(msg) if decoded else None
        finally:
            _BATCH.reset(token)
        for refused in result or ():
            if isinstance(refused, Refused):
                record = batch.records[id(refused.message)]
                letter = dead_letter(record, error=refused.reason, consumer=batch.consumer)
                batch.letters.append((record, letter))
        for record, letter in batch.letters:
            log.warning("dead-lettered: %s", letter.error, extra=record.log_extra)
            await batch.dead_letters.publish(
                letter.model_dump_json().encode(),
                key=record.key,
                headers={"content-type": "application/json"},
            )
        return None


def consumer_router() -> KafkaRouter:
    """A router whose batch subscribers dead-letter what they cannot process."""
    return KafkaRouter(middlewares=(DeadLetterMiddleware,))


Handler = Callable[..., Awaitable[Any]]


def publisher(
    router: KafkaRouter, topic: str, *, payload: Any, service: str, description: str
) -> DefaultPublisher:
    """Declare what `service` publishes on `topic`: the publisher it publishes through, which
    the AsyncAPI document lists as `<topic>:<service>` with `payload`'s schema."""
    return router.publisher(
        topic, schema=payload, title=f"{topic}:{service}", description=description
    )


def batch_subscriber(
    router: KafkaRouter,
    topic: str,
    *,
    group_id: str,
    payload: Any,
    max_records: int = 1000,
    listener: ConsumerRebalanceListener | None = None,
    per_instance: bool = False,
    description: str | None = None,
    decode: Decode[Any] | None = None,
) -> Any:
    """Every consumer's subscriber: batches of up to `max_records` from the start of `topic`
    in `group_id`, acknowledged after the handler returns; `payload` (a message model or a
    union of them) is what each record must validate as, as JSON unless `decode` reads the
    topic's records (ValueError: dead-lettered). Decorate (or call with) the handler.
    `listener` is told of the group's assignments; the subscriber's `.consumer` is the running
    aiokafka consumer. `per_instance`: a group of its own for this process (`<group_id>-<random
    suffix>`), so that every instance reads every message (what each serves, e.g. the
    models); the AsyncAPI document names the consumer `group_id` either way."""
    name = group_id
    if per_instance:
        group_id = f"{group_id}-{uuid.uuid4().hex[:12]}"
    dead_letters = router.publisher(
        topics.dead_letter(topic),
        schema=DeadLetter,
        title=f"{topics.dead_letter(topic)}:{name}",
        description=f"What {name} could not process from {topic}: the reason and the "
        "original bytes.",
    )
    return router.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        heartbeat_interval_ms=1000,
        listener=listener,
        decoder=DeadLetterDecoder(
            payload, consumer=group_id, dead_letters=dead_letters, decode=decode
        ),
        title=f"{name}:{topic}",
        description=description,
    )


def vectors_subscriber(router: KafkaRouter, *, group_id: str, description: str) -> Any:
    """A `batch_subscriber` of the packed feature vectors (`topics.FEATURES`): each record
    unpacked by `vectors.decode` into the FeaturesComputed its handler receives, one that cannot
    be dead-lettered; the AsyncAPI document says so before `description`."""
    return batch_subscriber(
        router,
        topics.FEATURES,
        group_id=group_id,
        payload=FeaturesComputed,
        decode=vectors.decode,
        description=f"{vectors.DECODED} {description}",
    )
