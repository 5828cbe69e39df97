"""Consumer lag from a batch: the high watermark of each partition in it minus the next offset
to read; summed per group and topic for `statmuse status`."""

from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from statmuse_shared.platform.lag import by_topic, record


class Consumer:
    def __init__(self, marks: dict[int, int]) -> None:
        self.marks = marks

    def highwater(self, tp: TopicPartition) -> int | None:
        if tp.partition == 9:
            raise AssertionError("Partition is not assigned")
        return self.marks.get(tp.partition)


def lag(group: str, topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "statmuse_consumer_lag", {"group": group, "topic": topic, "partition": str(partition)}
    )


def test_each_partition_of_a_batch_gets_its_lag_from_its_last_offset() -> None:
    batch = [("t.lag", 0, 10), ("t.lag", 0, 11), ("t.lag", 1, 4), ("t.lag", 2, 0), ("t.lag", 9, 1)]
    record(Consumer({0: 20, 1: 5, 2: None}), "g1", batch)  # type: ignore[dict-item]
    assert lag("g1", "t.lag", 0) == 8  # offsets 12..19 not read yet
    assert lag("g1", "t.lag", 1) == 0  # caught up
    assert lag("g1", "t.lag", 2) is None  # no watermark known: nothing set
    assert lag("g1", "t.lag", 9) is None  # left in a rebalance
    record(Consumer({0: 20}), "g1", [("t.lag", 0, 19)])
    assert lag("g1", "t.lag", 0) == 0


def test_a_consumer_without_watermarks_sets_nothing() -> None:
    record(object(), "g2", [("t.lag", 0, 10)])
    assert lag("g2", "t.lag", 0) is None


def test_lag_sums_over_partitions_per_group_and_topic() -> None:
    samples = [
        ({"group": "features", "topic": "raw", "partition": "0"}, 5.0),
        ({"group": "features", "topic": "raw", "partition": "1"}, 7.0),
        ({"group": "predictor", "topic": "vectors", "partition": "0"}, 0.0),
    ]
    assert by_topic(samples) == {("features", "raw"): 12.0, ("predictor", "vectors"): 0.0}
