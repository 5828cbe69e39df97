"""The stored form of a vector: its values as float64 little-endian in packing order (the
catalogue's, `feature_names()`), NaN for None. Stored vectors rely on the order, so it only
changes with a new feature-set version."""

import math
import operator
import struct

import numpy as np
import pydantic_core

from statmuse_shared.features.catalogue import feature_names
from statmuse_shared.features.player import Features

NAMES = tuple(feature_names())
_LAYOUT = struct.Struct(f"<{len(NAMES)}d")
_VALUES = operator.itemgetter(*NAMES)  # a dict's values in packing order, in one C call
_NAN = math.nan


def pack(features: Features) -> bytes:
    """`features` (every catalogue name; other keys are ignored) as stored bytes."""
    return _LAYOUT.pack(*[_NAN if v is None else v for v in _VALUES(features)])


def in_order(features: Features) -> dict[str, float | None]:
    """`features` with exactly the catalogue's names, in packing order."""
    return dict(zip(NAMES, _VALUES(features), strict=True))


def unpack(data: bytes) -> Features:
    """Stored bytes back as named features; NaN reads as None. (The NaNs found by numpy: half
    the time of testing each value in Python.)"""
    out: Features = dict(zip(NAMES, _LAYOUT.unpack(data), strict=True))
    for i in np.flatnonzero(np.isnan(np.frombuffer(data, dtype="<f8"))).tolist():
        out[NAMES[i]] = None
    return out


def features_json(features: Features) -> str:
    """`features` as JSON text (a JSONB column's value), exact: each float in its shortest form
    that reads back as the same float, None as null. pydantic's serializer, some six times
    faster than `json.dumps` on a vector."""
    return pydantic_core.to_json(features).decode()
