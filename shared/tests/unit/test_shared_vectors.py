"""The packed feature vector (statmuse_shared.contract.vectors): the layout it documents, a
round trip exact to the bit, a clear ValueError for every kind of bad record, and the same
through a subscriber, which dead-letters the record with its original bytes."""

import base64
import datetime as dt
import json
import math
import re
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from statmuse_shared.contract import vectors
from statmuse_shared.contract.messages import DeadLetter, FeaturesComputed, GameRef, StatLine
from statmuse_shared.contract.vectors import FORMAT_VERSION, MAGIC, decode, encode
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names
from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.consumers import batch_subscriber, consumer_router

NAMES = feature_names()
DAY = dt.date(2024, 3, 12)
# Values whose decimal spelling is long or lossy, signed zero, the extremes of float64.
AWKWARD = (1 / 3, -200 / 3, 0.1 + 0.2, -0.0, 5e-324, 1.7976931348623157e308, 2.5e-7 / 3, 30)


def vector(values: list[float | None] | None = None, **changes: Any) -> FeaturesComputed:
    """A played game's vector (every header field set): `values` in packing order, by default
    the awkward ones with a None every fifth."""
    if values is None:
        values = [None if i % 5 == 4 else AWKWARD[i % len(AWKWARD)] for i in range(len(NAMES))]
    fields: dict[str, Any] = {
        "event_id": "fv-2544-2024-03-12",
        "occurred_at": dt.datetime(2024, 3, 12, 23, 0, 0, 123456, tzinfo=dt.UTC),
        "player_id": 2544,
        "player_name": "LeBron James",
        "team": "LAL",
        "season": "2023-24",
        "as_of": DAY,
        "kind": "game",
        "game": GameRef(game_date=DAY, season_type="Regular Season", opponent="DEN", is_home=True),
        "feature_set_version": FEATURE_SET_VERSION,
        "features": dict(zip(NAMES, values, strict=True)),
        "last_game": StatLine(
            game_date=DAY - dt.timedelta(days=2), minutes=35.5, points=28, rebounds=8, assists=9
        ),
        "outcome": StatLine(game_date=DAY, minutes=31, points=25, rebounds=5, assists=5),
    }
    return FeaturesComputed(**{**fields, **changes})


def bits(x: float | None) -> bytes | None:
    return None if x is None else struct.pack("<d", x)


def packed(header: bytes, values: bytes, *, magic: bytes = MAGIC, version: int = 1) -> bytes:
    """A record laid out by hand, as the layout says: prefix, header, values."""
    return struct.pack("<4sBI", magic, version, len(header)) + header + values


def parts(value: bytes) -> tuple[bytes, bytes]:
    """The header and the values of a good record."""
    (length,) = struct.unpack_from("<I", value, 5)
    return value[9 : 9 + length], value[9 + length :]


GOOD = encode(vector())
HEADER, VALUES = parts(GOOD)


# --- the layout and the round trip ------------------------------------------------------------


def test_the_record_is_laid_out_as_documented() -> None:
    message = vector()
    magic, version, length = struct.unpack_from("<4sBI", GOOD)
    assert (magic, version, length) == (b"SMFV", FORMAT_VERSION, len(HEADER))
    header = json.loads(HEADER)
    assert "features" not in header
    assert header == json.loads(message.model_dump_json(exclude={"features"}))
    values = struct.unpack(f"<{len(NAMES)}d", VALUES)
    for name, x in zip(NAMES, values, strict=True):
        wanted = message.features[name]
        assert math.isnan(x) if wanted is None else bits(x) == bits(wanted), name
    for promised in ("SMFV", "uint8", "uint32 little-endian", "float64 little-endian", "NaN"):
        assert promised in vectors.LAYOUT


def test_a_round_trip_gives_back_the_message_with_every_value_to_the_bit() -> None:
    message = vector()
    assert message.features[NAMES[4]] is None
    assert bits(message.features[NAMES[3]]) == bits(-0.0) != bits(0.0)
    record = encode(message)
    back = decode(record)
    assert back == message
    assert list(back.features) == NAMES
    # A consumer stores the values it received, not packed again.
    assert back.packed() == record[-8 * len(NAMES) :]
    # Equality does not see the sign of zero, nor tell None from NaN: the bits do.
    assert [bits(back.features[n]) for n in NAMES] == [bits(message.features[n]) for n in NAMES]


def test_a_next_vector_without_game_or_games_round_trips() -> None:
    debut = vector(kind="next", game=None, last_game=None, outcome=None)
    assert decode(encode(debut)) == debut


@given(st.lists(st.none() | st.floats(allow_nan=False), min_size=len(NAMES), max_size=len(NAMES)))
def test_any_values_round_trip_to_the_bit(values: list[float | None]) -> None:
    back = decode(encode(vector(values)))
    assert [bits(back.features[n]) for n in NAMES] == [bits(v) for v in values]


def test_encode_refuses_what_it_would_lose_or_guess() -> None:
    with pytest.raises(ValueError, match=r"feature set 'fs-1' is not this code's"):
        encode(vector(feature_set_version="fs-1"))
    short = vector()
    del short.features[NAMES[0]]
    with pytest.raises(ValueError, match=rf"missing \['{NAMES[0]}'\], extra \[\]"):
        encode(short)
    with pytest.raises(ValueError, match=r"missing \[\], extra \['dunks_sma_10'\]"):
        encode(vector(features={**vector().features, "dunks_sma_10": 1.0}))


# --- bad records ------------------------------------------------------------------------------

_OTHER_SET = HEADER.replace(
    f'"feature_set_version":"{FEATURE_SET_VERSION}"'.encode(), b'"feature_set_version":"fs-0"'
)
_NEGATIVE_ID = HEADER.replace(b'"player_id":2544', b'"player_id":-1')

_SIZE = len(VALUES)
# (why it is bad, the record, what the error says)
BAD = [
    ("empty", b"", r"truncated: 0 bytes, shorter than the 9-byte prefix"),
    ("shorter than the prefix", GOOD[:5], r"truncated: 5 bytes"),
    ("JSON (a v1 record)", vector().model_dump_json().encode(), r"not a packed vector"),
    ("wrong magic", b"SMFW" + GOOD[4:], r"not a packed vector: it starts b'SMFW'"),
    ("unknown format", packed(HEADER, VALUES, version=2), r"unknown vector format 2"),
    ("header cut", GOOD[: 9 + len(HEADER) // 2], r"truncated: a \d+-byte header declared"),
    ("values cut", GOOD[:-8], rf"{_SIZE - 8} bytes of values .* truncated or over-long"),
    ("half a value", GOOD[:-3], rf"{_SIZE - 3} bytes of values .* truncated or over-long"),
    ("a value too many", GOOD + bytes(8), rf"{_SIZE + 8} bytes of values .* over-long"),
    ("header not JSON", packed(b"{not json", VALUES), r"Invalid JSON"),
    ("header not a message", packed(_NEGATIVE_ID, VALUES), r"player_id:?\s+Input should be"),
    ("header not an object", packed(b"[]", VALUES), r"should be an object"),
    ("another feature set", packed(_OTHER_SET, VALUES), r"feature set 'fs-0' is not this code's"),
]


@pytest.mark.parametrize(("why", "record", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_record_is_a_value_error_saying_what_is_wrong(
    why: str, record: bytes, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        decode(record)


def test_a_bad_header_is_pydantics_validation_error() -> None:
    with pytest.raises(ValidationError, match="FeaturesHeader"):
        decode(packed(_NEGATIVE_ID, VALUES))


@given(at=st.integers(0, len(GOOD) - 1), byte=st.integers(0, 255), cut=st.integers(0, 40))
def test_any_damage_is_a_value_error_or_a_valid_vector(at: int, byte: int, cut: int) -> None:
    """Nothing a consumer could be sent makes decode raise anything else (which would stop
    the consumer on the record instead of dead-lettering it)."""
    damaged = GOOD[:at] + bytes([byte]) + GOOD[at + 1 :]
    for record in (damaged, damaged[: len(damaged) - cut]):
        try:
            back = decode(record)
        except ValueError:
            continue
        assert back.feature_set_version == FEATURE_SET_VERSION
        assert list(back.features) == NAMES


# --- through a subscriber ---------------------------------------------------------------------

TOPIC = "test.vectors.v1"


@pytest.fixture
async def subscribed() -> AsyncIterator[tuple[Any, list[FeaturesComputed], list[DeadLetter]]]:
    seen: list[FeaturesComputed] = []
    dead: list[DeadLetter] = []
    router = consumer_router()

    async def handle(batch: list[FeaturesComputed]) -> None:
        seen.extend(batch)

    batch_subscriber(router, TOPIC, group_id="vectors", payload=FeaturesComputed, decode=decode)(
        handle
    )
    broker = make_broker("localhost:9092", client_id="test")
    broker.include_router(router)

    @broker.subscriber(f"{TOPIC}.dlq", group_id="probe")
    async def letters(letter: DeadLetter) -> None:
        dead.append(letter)

    async with TestKafkaBroker(broker) as br:
        yield br, seen, dead


async def test_a_subscriber_dead_letters_bad_vectors_with_their_bytes_and_goes_on(
    subscribed: tuple[Any, list[FeaturesComputed], list[DeadLetter]],
) -> None:
    br, seen, dead = subscribed
    first, second = vector(), vector(player_id=203999, player_name="Nikola Jokic")
    bad = [record for _, record, _ in BAD]
    await br.publish_batch(encode(first), *bad, encode(second), topic=TOPIC)
    assert seen == [first, second]
    assert [base64.b64decode(d.payload_b64) for d in dead] == bad
    assert {d.consumer for d in dead} == {"vectors"}
    assert {d.original_topic for d in dead} == {TOPIC}
    for (why, _, says), letter in zip(BAD, dead, strict=True):
        assert letter.error.startswith("invalid FeaturesComputed: "), why
        assert re.search(says, letter.error), (why, letter.error)


async def test_an_unknown_schema_version_in_the_header_is_dead_lettered(
    subscribed: tuple[Any, list[FeaturesComputed], list[DeadLetter]],
) -> None:
    br, seen, dead = subscribed
    newer = encode(vector(schema_version=99))
    await br.publish_batch(newer, topic=TOPIC)
    assert seen == []
    [letter] = dead
    assert letter.error == "unsupported schema_version 99"
    assert base64.b64decode(letter.payload_b64) == newer


def test_a_whole_vector_of_this_feature_set_is_stored_packed_anything_else_as_json() -> None:
    """What the gateway, the trainer and the predictor store: packed values only where they can
    be read back in this code's order; a partial vector or another set's keeps its names, as
    JSON. `from_stored` reads either back."""
    from statmuse_shared.features import pack

    whole = vector()
    assert vectors.stored_form(whole) == (pack(whole.features), None)
    assert vectors.from_stored(pack(whole.features)) == whole.features  # read back, to the bit
    remembered = vector()
    remembered.remember_packed(b"as packed by the features service")
    assert vectors.stored_form(remembered) == (b"as packed by the features service", None)
    partial = vector(features={"points_sma_10": 25.0})
    other = vector(feature_set_version="fs-0")
    for message in (partial, other):
        kept, text = vectors.stored_form(message)
        assert kept is None
        assert text is not None
        assert vectors.from_stored(text) == message.features
