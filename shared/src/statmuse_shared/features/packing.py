"""The stored form of a vector: its values as float64 little-endian in packing order (the
catalogue's, `feature_names()`), NaN for None. Stored vectors rely on the order, so it only
changes with a new feature-set version."""

import math
import struct

from statmuse_shared.features.catalogue import feature_names
from statmuse_shared.features.player import Features

NAMES = tuple(feature_names())
_LAYOUT = struct.Struct(f"<{len(NAMES)}d")


def pack(features: Features) -> bytes:
    """`features` (every catalogue name; other keys are ignored) as stored bytes."""
    return _LAYOUT.pack(*(math.nan if (v := features[n]) is None else v for n in NAMES))


def unpack(data: bytes) -> Features:
    """Stored bytes back as named features; NaN reads as None."""
    return {
        n: None if math.isnan(v) else v for n, v in zip(NAMES, _LAYOUT.unpack(data), strict=True)
    }
