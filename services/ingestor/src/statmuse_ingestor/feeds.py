"""Feeds: the schedule, availability and prop lines, streams where the latest item under a key
is what holds (a game, a team's list of absentees for a game, a book's line). Items are stored
with `FeedRepository` only when their content changed, and published from that outbox in
game-date order, each chunk marked once the broker has acknowledged it; a chunk not
acknowledged stays for the next run."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from faststream.kafka.publisher.usecase import DefaultPublisher
from pydantic import BaseModel

from statmuse_ingestor.backfill import Counts
from statmuse_ingestor.ports import Feed, FeedItem, StoreResult
from statmuse_ingestor.rows import RawRow
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_shared.platform.broker import publish_many

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
CHUNK = 2000


async def store(rt: IngestorRuntime, feed: Feed, items: Sequence[FeedItem]) -> StoreResult:
    """Store the items a chunk at a time: how many were new or changed, how many unchanged."""
    stored = unchanged = 0
    for start in range(0, len(items), CHUNK):
        result = await rt.feeds.store_feed(feed, items[start : start + CHUNK])
        stored += result.stored
        unchanged += result.unchanged
    return StoreResult(stored, unchanged)


async def publish(
    rt: IngestorRuntime,
    feed: Feed,
    publisher: DefaultPublisher,
    *,
    model: type[M],
    key: Callable[[M], bytes],
    chunk: int = CHUNK,
) -> int:
    """Publish every stored-but-unpublished item of the feed as `model`, keyed by `key`;
    returns how many."""
    total = 0
    while True:
        pending = await rt.feeds.unpublished_feed(feed, limit=chunk)
        if not pending:
            return total
        messages = [model.model_validate_json(item.payload) for item in pending]
        await publish_many(publisher, [(key(m), m) for m in messages])
        await rt.feeds.mark_feed_published(feed, pending)
        total += len(pending)


@dataclass(frozen=True)
class Channel(Generic[M]):
    """Where a feed goes: its table rows, its topic and dead-letter topic, its message."""

    feed: Feed
    topic: str
    publisher: DefaultPublisher
    rejects: DefaultPublisher
    model: type[M]
    key: Callable[[M], bytes]  # the topic key of a message
    reject_key: str  # the column of a rejected row that keys its dead letter


async def ingest(
    rt: IngestorRuntime,
    channel: Channel[M],
    *,
    source: str,
    items: Sequence[FeedItem],
    rejects: Sequence[tuple[RawRow, str]],
    summary: Counts,
) -> None:
    """Store the items, dead-letter the rejected rows (the reason, where each was, the record
    as received) and publish what is new or changed; the counts go into `summary`."""
    summary.stored, summary.unchanged = await store(rt, channel.feed, items)
    if rejects:
        letters = [
            summary.rejection(
                topic=channel.topic,
                source=source,
                location=raw.location,
                reason=reason,
                record=raw.record,
                key=raw.record.get(channel.reject_key) or None,
                short=reason.split(":")[0],
            )
            for raw, reason in rejects
        ]
        await publish_many(channel.rejects, [(b"rejected", letter) for letter in letters])
        log.warning("rejected %d %s rows", len(rejects), channel.feed)
    summary.published = await publish(
        rt, channel.feed, channel.publisher, model=channel.model, key=channel.key
    )
