"""Random bytes and malformed JSON into every consumer's decoder (the packed vectors' too):
each record comes out either as a valid message or as a dead letter with a reason and the exact
payload; nothing raises, and a good message after the poison is still delivered."""

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from statmuse_shared.contract import vectors
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    ModelAliasRequested,
    ModelPublished,
    PredictionMade,
    RawGame,
    TrainRequested,
)
from statmuse_shared.platform.consumers import Record, decode_records

# What the consumers subscribe with (features, gateway, predictor, trainer handlers): the
# payload, and the decode function of a topic that is not JSON.
SUBSCRIBED = [
    (TypeAdapter(RawGame), None),
    (FeaturesComputed, vectors.decode),
    (ModelPublished, None),
    (TrainRequested, None),
    (ModelAliasRequested, None),
    (PredictionMade, None),
]
GOOD = TrainRequested(event_id="e-1", stat="points", reason="admin").model_dump_json().encode()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
KNOWN_KEYS = [
    "event_id",
    "schema_version",
    "kind",
    "stat",
    "player_id",
    "features",
    "as_of",
    "version",
    "alias",
    "artifact_uri",
    "reason",
    "game_date",
]
shaped = st.dictionaries(
    st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), json_values, max_size=8
).map(lambda d: json.dumps(d).encode())
truncated = st.builds(lambda cut: GOOD[:cut], st.integers(0, len(GOOD) - 1))
versions = st.integers(-5, 10**6).map(
    lambda v: GOOD.replace(b'"schema_version":1', f'"schema_version":{v}'.encode())
)
payloads = st.one_of(
    st.binary(max_size=300), shaped, truncated, versions, st.text(max_size=100).map(str.encode)
)


@settings(max_examples=500, deadline=None)
@given(subscribed=st.sampled_from(SUBSCRIBED), values=st.lists(payloads, min_size=1, max_size=5))
def test_every_record_is_a_message_or_an_explained_dead_letter(subscribed, values: list[bytes]):
    model, decode = subscribed
    batch = [Record("t", 0, i, None if i % 2 else b"\xff\xfekey", v) for i, v in enumerate(values)]
    good, bad = decode_records(batch, model, consumer="fuzz", decode=decode)
    assert len(good) + len(bad) == len(batch)
    assert sorted(r.offset for r, _ in [*good, *bad]) == list(range(len(batch)))  # type: ignore[type-var]
    for record, letter in bad:
        assert letter.error.strip()
        assert base64.b64decode(letter.payload_b64) == record.value
        assert letter.original_topic == "t"
        assert letter.consumer == "fuzz"
        letter.model_dump_json()  # publishable as it is


@settings(max_examples=200, deadline=None)
@given(poison=st.lists(payloads, min_size=1, max_size=4))
def test_a_good_message_after_poison_still_gets_through(poison: list[bytes]):
    batch = [Record("t", 0, i, None, v) for i, v in enumerate([*poison, GOOD])]
    good, bad = decode_records(batch, TrainRequested, consumer="fuzz")
    assert good[-1][0].offset == len(poison)
    assert good[-1][1].event_id == "e-1"
    assert len(good) + len(bad) == len(batch)


def test_an_unknown_schema_version_is_named_in_the_dead_letter():
    assert b'"schema_version":1' in GOOD
    newer = GOOD.replace(b'"schema_version":1', b'"schema_version":99')
    good, bad = decode_records([Record("t", 0, 0, None, newer)], TrainRequested, consumer="c")
    assert good == []
    assert bad[0][1].error == "unsupported schema_version 99"
