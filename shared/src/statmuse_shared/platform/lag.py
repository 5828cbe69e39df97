"""Consumer lag, as each consumer sees it: for every partition of a batch, the broker's high
watermark (from the fetch that brought the batch) minus the next offset to read.

The usual measure, group offsets from the broker, needs ListOffsets and OffsetFetch, which the
local broker (tansu) answers in ways aiokafka cannot use; the consumer's own fetch responses
carry the high watermark on every broker. A partition's lag is updated whenever a batch brings
records of it, so a partition with a backlog is always current (its records keep coming) and
one that has caught up says 0."""

from collections.abc import Iterable
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import Gauge

CONSUMER_LAG = Gauge(
    "statmuse_consumer_lag",
    "Records this consumer group has not read yet, per topic and partition, as of its last "
    "batch of that partition (the high watermark minus the next offset to read)",
    ["group", "topic", "partition"],
)


def record(consumer: Any, group: str, batch: Iterable[tuple[str, int | None, int | None]]) -> None:
    """Set the lag of every partition in `batch` ((topic, partition, offset) of each record)
    from `consumer`'s high watermarks; a consumer without them (a test double) sets nothing."""
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:
        return
    last: dict[tuple[str, int], int] = {}
    for topic, partition, offset in batch:
        if partition is not None and offset is not None:
            last[(topic, partition)] = max(offset, last.get((topic, partition), offset))
    for (topic, partition), offset in last.items():
        try:
            mark = highwater(TopicPartition(topic, partition))
        except AssertionError:  # aiokafka's check: the partition left in a rebalance meanwhile
            continue
        if isinstance(mark, int):
            CONSUMER_LAG.labels(group, topic, str(partition)).set(max(mark - offset - 1, 0))


def by_topic(samples: Iterable[tuple[dict[str, str], float]]) -> dict[tuple[str, str], float]:
    """(group, topic) -> lag summed over partitions, from `statmuse_consumer_lag` samples
    (labels, value) as a /metrics scrape gives them (for `statmuse status`)."""
    out: dict[tuple[str, str], float] = {}
    for labels, value in samples:
        key = (labels.get("group", ""), labels.get("topic", ""))
        out[key] = out.get(key, 0.0) + value
    return out
