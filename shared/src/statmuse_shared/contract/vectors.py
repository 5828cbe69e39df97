"""The packed form of a feature vector, what `nba.features.v2` carries (`LAYOUT` says how).

Why not JSON: a vector is some 300 floats, and JSON spells out every name and every digit in
every message, several KB each, on the topic three services read whole and replay. Packed,
the names are the feature set's (the header names it) and each value is its 8 bytes, exact to
the bit. The price is that a reader must know the feature set's order: this code knows one,
`FEATURE_SET_VERSION`'s (the catalogue's `feature_names()`, the order the features service
stores vectors in: `statmuse_shared.features.pack`), and refuses any other vector, so a
consumer dead-letters it rather than put values under the wrong names.

`decode` raises ValueError (pydantic's ValidationError for the header is one) for anything
that is not a whole, known vector: consumers dead-letter on it.
"""

import json
import struct
from typing import Final

from statmuse_shared.contract import topics
from statmuse_shared.contract.encoding import Encoding
from statmuse_shared.contract.messages import FeaturesComputed, FeaturesHeader
from statmuse_shared.features import (
    FEATURE_SET_VERSION,
    feature_names,
    features_json,
    pack,
    unpack,
)

CONTENT_TYPE: Final = "application/vnd.statmuse.vector"
MAGIC: Final = b"SMFV"
FORMAT_VERSION: Final = 1
# magic, format version (uint8), header length in bytes (uint32), little-endian
PREFIX: Final = struct.Struct("<4sBI")
NAMES: Final = frozenset(feature_names())
VALUES_BYTES: Final = 8 * len(NAMES)

LAYOUT: Final = (
    f"Each record's value is a packed vector (content-type {CONTENT_TYPE}), not JSON: a "
    f"{PREFIX.size}-byte prefix (the magic bytes {MAGIC.decode()}, the format version "
    f"{FORMAT_VERSION} as a uint8, the header's length in bytes as a uint32 little-endian); "
    "the header, UTF-8 JSON of the schema below (the FeaturesComputed message without its "
    "features); then one float64 little-endian per feature, in the order of the header's "
    "feature_set_version (its names sorted, as docs/FEATURES.md lists them), NaN for None. "
    f"A consumer refuses a vector of a feature set it does not know ({topics.FEATURES}.dlq)."
)
# What the AsyncAPI document says of a subscriber of packed vectors.
DECODED: Final = (
    f"Packed vectors (the layout is on the publisher's channel, {topics.FEATURES}:features), "
    "each decoded into the FeaturesComputed below."
)


def _known(feature_set_version: str) -> None:
    """Only the current feature set's order is declared here: the values of another set's
    vector would land under the wrong names."""
    if feature_set_version != FEATURE_SET_VERSION:
        raise ValueError(
            f"feature set {feature_set_version!r} is not this code's ({FEATURE_SET_VERSION}): "
            "the order of its values is unknown here"
        )


def encode(message: FeaturesComputed) -> bytes:
    """The record value of `message`, which must have exactly its feature set's names (a
    name missing or extra would be lost or guessed on the way). Values packed already (the
    features service packs each vector once) are taken as they are."""
    _known(message.feature_set_version)
    given = message.features
    if len(given) != len(NAMES) or given.keys() != NAMES:
        missing, extra = sorted(NAMES - given.keys())[:5], sorted(given.keys() - NAMES)[:5]
        raise ValueError(
            f"features are not {message.feature_set_version}'s: missing {missing}, extra {extra}"
        )
    values = message.packed() or pack(given)
    header = message.model_dump_json(exclude={"features"}).encode()
    return PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header + values


def decode(value: bytes) -> FeaturesComputed:
    """A record value back as the message; ValueError saying what is wrong with it otherwise."""
    if len(value) < PREFIX.size:
        raise ValueError(
            f"truncated: {len(value)} bytes, shorter than the {PREFIX.size}-byte prefix"
        )
    magic, version, header_length = PREFIX.unpack_from(value)
    if magic != MAGIC:
        raise ValueError(f"not a packed vector: it starts {magic!r}, not {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise ValueError(f"unknown vector format {version} (this code reads {FORMAT_VERSION})")
    values_at = PREFIX.size + header_length
    if values_at > len(value):
        raise ValueError(
            f"truncated: a {header_length}-byte header declared, "
            f"{len(value) - PREFIX.size} bytes after the prefix"
        )
    header = FeaturesHeader.model_validate_json(value[PREFIX.size : values_at])
    _known(header.feature_set_version)
    values = value[values_at:]
    if len(values) != VALUES_BYTES:
        raise ValueError(
            f"{len(values)} bytes of values where {header.feature_set_version}'s "
            f"{len(NAMES)} features take {VALUES_BYTES}: truncated or over-long"
        )
    # The header is validated and the values are floats by construction: no second pass.
    message = FeaturesComputed.model_construct(**dict(header), features=unpack(values))
    message.remember_packed(values)  # stored as received (`stored_form`), not packed again
    return message


PACKED: Final[Encoding[FeaturesComputed]] = Encoding(CONTENT_TYPE, encode)


def stored_form(message: FeaturesComputed) -> tuple[bytes | None, str | None]:
    """How a service stores the vector's values: (packed, None) for a whole vector of this
    code's feature set (its packed values reused when it has them), else (None, its JSON
    text): a packed column can only be read back in a known order, so anything else (another
    set's vector, a partial one) keeps its names."""
    if (packed := message.packed()) is not None:
        return packed, None
    if message.feature_set_version == FEATURE_SET_VERSION and message.features.keys() == NAMES:
        return pack(message.features), None
    return None, features_json(message.features)


def from_stored(stored: bytes | str) -> dict[str, float | None]:
    """The values a service stored by `stored_form`: packed bytes unpacked (the caller reads
    only rows of this code's feature set), JSON text parsed."""
    if isinstance(stored, bytes):
        return unpack(stored)
    parsed: dict[str, float | None] = json.loads(stored)
    return parsed
