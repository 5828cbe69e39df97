"""Deterministic event ids: a replay of the same fact yields the same id."""

import json
import uuid
from typing import Final

# A fixed namespace so ids are stable across processes, hosts and releases.
NAMESPACE: Final = uuid.UUID("6f1c9a4e-3b7d-5e2a-9c41-8d0b5f7a2e63")


def event_id(*parts: object) -> str:
    """A UUIDv5 over the parts, e.g. ``event_id("files", game_key, player_id)``."""
    if not parts:
        raise ValueError("event_id needs at least one part")
    # JSON keeps the parts apart: ("a|b",) and ("a", "b") must not collide.
    return str(uuid.uuid5(NAMESPACE, json.dumps([str(p) for p in parts])))
