import base64
import json
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import TypeAdapter

from statmuse_shared.contract.messages import PlayerGameIngested, RawGame
from statmuse_shared.platform.consumers import Record, dead_letter, decode_records, records


def consumer_record(
    value: bytes | None, *, key: bytes | None = b"2544", offset: int = 7
) -> ConsumerRecord:
    return ConsumerRecord(
        topic="nba.games.raw.v1",
        partition=3,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=[],
    )


def record(value: bytes, offset: int = 0) -> Record:
    return Record(topic="nba.games.raw.v1", partition=1, offset=offset, key=b"2544", value=value)


@pytest.fixture
def good_bytes(lebron_game: PlayerGameIngested) -> bytes:
    return lebron_game.model_dump_json().encode()


def test_records_from_a_single_message() -> None:
    [got] = records(consumer_record(b'{"a": 1}'))
    assert got == Record("nba.games.raw.v1", 3, 7, b"2544", b'{"a": 1}')
    assert got.log_extra == {"topic": "nba.games.raw.v1", "partition": 3, "offset": 7}


def test_records_from_a_batch_keeps_order_and_turns_none_into_empty_bytes() -> None:
    got = records([consumer_record(b"x", offset=1), consumer_record(None, key=None, offset=2)])
    assert [(r.offset, r.key, r.value) for r in got] == [(1, b"2544", b"x"), (2, None, b"")]


def test_decode_splits_good_from_bad(good_bytes: bytes, lebron_game: PlayerGameIngested) -> None:
    batch = [record(good_bytes, 0), record(b"{not json", 1), record(good_bytes, 2)]
    good, bad = decode_records(batch, PlayerGameIngested, consumer="features")
    assert [(r.offset, m) for r, m in good] == [(0, lebron_game), (2, lebron_game)]
    assert [r.offset for r, _ in bad] == [1]
    letter = bad[0][1]
    assert letter.error.startswith("invalid PlayerGameIngested: ")
    assert "JSON" in letter.error


def test_dead_letter_carries_original_bytes_and_reason() -> None:
    raw = b"\xff\xfe not even utf-8"
    _, [(rec, letter)] = decode_records([record(raw, 42)], PlayerGameIngested, consumer="features")
    assert rec.offset == 42
    assert base64.b64decode(letter.payload_b64) == raw
    assert letter.original_topic == "nba.games.raw.v1"
    assert (letter.partition, letter.offset, letter.key) == (1, 42, "2544")
    assert letter.consumer == "features"


def test_schema_invalid_message_names_the_field(lebron_game: PlayerGameIngested) -> None:
    payload = json.loads(lebron_game.model_dump_json())
    payload["points"] = -3
    raw = json.dumps(payload).encode()
    good, [(_, letter)] = decode_records([record(raw)], PlayerGameIngested, consumer="c")
    assert good == []
    assert letter.error.startswith("invalid PlayerGameIngested: points:")
    assert base64.b64decode(letter.payload_b64) == raw


def test_unsupported_schema_version_is_dead_lettered(lebron_game: PlayerGameIngested) -> None:
    payload = json.loads(lebron_game.model_dump_json())
    payload["schema_version"] = 2
    raw = json.dumps(payload).encode()
    good, [(_, letter)] = decode_records([record(raw)], PlayerGameIngested, consumer="c")
    assert good == []
    assert letter.error == "unsupported schema_version 2"
    assert base64.b64decode(letter.payload_b64) == raw

    accepted, rejected = decode_records(
        [record(raw)], PlayerGameIngested, consumer="c", supported_versions=frozenset({1, 2})
    )
    assert rejected == []
    assert accepted[0][1].schema_version == 2


def test_decode_with_a_discriminated_union(lebron_game: PlayerGameIngested) -> None:
    raw = lebron_game.model_dump_json().encode()
    good, bad = decode_records([record(raw)], TypeAdapter(RawGame), consumer="c")
    assert bad == []
    assert isinstance(good[0][1], PlayerGameIngested)
    assert good[0][1] == lebron_game


def test_a_decode_function_reads_the_values_and_its_value_error_is_the_reason(
    lebron_game: PlayerGameIngested,
) -> None:
    """A topic that is not JSON: the subscriber's own decode reads each value; what it cannot
    read is dead-lettered with its words, and the schema_version check still applies."""

    def decode(value: bytes) -> PlayerGameIngested:
        if not value.startswith(b"v:"):
            raise ValueError("no v: prefix")
        return PlayerGameIngested.model_validate_json(value[2:])

    good_bytes = lebron_game.model_dump_json().encode()
    newer = lebron_game.model_copy(update={"schema_version": 2}).model_dump_json().encode()
    batch = [record(b"v:" + good_bytes, 0), record(good_bytes, 1), record(b"v:" + newer, 2)]
    good, bad = decode_records(batch, PlayerGameIngested, consumer="c", decode=decode)
    assert [(r.offset, m) for r, m in good] == [(0, lebron_game)]
    assert [(r.offset, letter.error) for r, letter in bad] == [
        (1, "invalid PlayerGameIngested: no v: prefix"),
        (2, "unsupported schema_version 2"),
    ]
    assert base64.b64decode(bad[0][1].payload_b64) == good_bytes


def test_dead_letter_truncates_long_errors_and_decodes_keys_leniently() -> None:
    rec = Record(topic="t", partition=None, offset=None, key=b"\xff23", value=b"abc")
    letter = dead_letter(rec, error="x" * 5000, consumer="g")
    assert len(letter.error) == 2000
    assert letter.key == "\ufffd23"
    assert letter.payload_b64 == "YWJj"
    assert dead_letter(Record("t", 0, 0, None, b""), error="e", consumer="g").key is None


async def test_publish_many_gives_up_with_a_count_when_the_broker_never_acknowledges():
    """A broker that takes the messages but never acknowledges: PublishTimeout, no hang, and
    every pending acknowledgement cancelled (nothing left to log 'never retrieved')."""
    import asyncio

    from statmuse_shared.contract.messages import TrainRequested
    from statmuse_shared.platform.broker import PublishTimeout, publish_many

    futures: list[asyncio.Future] = []

    class Silent:
        async def publish(self, *args, **kwargs):
            futures.append(asyncio.get_running_loop().create_future())
            return futures[-1]

    items = [
        (b"k", TrainRequested(event_id=f"e{i}", stat="points", reason="admin")) for i in range(3)
    ]
    with pytest.raises(PublishTimeout, match="did not acknowledge 3 of 3 messages within 0.05 s"):
        await publish_many(Silent(), items, ack_seconds=0.05)  # type: ignore[arg-type]
    assert len(futures) == 3
    assert all(f.cancelled() for f in futures)


async def test_publish_many_writes_each_record_as_its_encoding_says():
    """JSON by default; the feature vectors packed, with the content-type that says so; to the
    key's partition unless told one per record."""
    from statmuse_shared.contract import vectors
    from statmuse_shared.contract.messages import FeaturesComputed, TrainRequested
    from statmuse_shared.features import FEATURE_SET_VERSION, feature_names
    from statmuse_shared.platform.broker import publish_many

    sent: list[tuple[bytes, bytes, dict[str, str]]] = []
    placed: list[int | None] = []

    class Recording:
        async def publish(self, body, topic, *, key, partition, headers, no_confirm):
            sent.append((body, key, headers))
            placed.append(partition)

    request = TrainRequested(event_id="e", stat="points", reason="admin")
    vector = FeaturesComputed(
        event_id="v",
        player_id=2544,
        player_name="LeBron James",
        team="LAL",
        season="2023-24",
        as_of="2024-03-12",
        feature_set_version=FEATURE_SET_VERSION,
        features={**dict.fromkeys(feature_names()), "points_sma_10": 25.4},
    )
    publisher: Any = Recording()
    assert await publish_many(publisher, [(b"points", request)]) == 1
    assert await publish_many(publisher, [(b"2544", vector)], encoding=vectors.PACKED) == 1
    assert sent == [
        (request.model_dump_json().encode(), b"points", {"content-type": "application/json"}),
        (vectors.encode(vector), b"2544", {"content-type": "application/vnd.statmuse.vector"}),
    ]
    assert placed == [None, None]
    items = [(b"points", request), (b"rebounds", request)]
    assert await publish_many(publisher, items, partitions=[3, None]) == 2
    assert placed[2:] == [3, None]
    with pytest.raises(ValueError, match="1 partitions for 2 messages"):
        await publish_many(publisher, items, partitions=[0])
