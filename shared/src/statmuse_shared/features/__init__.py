"""Feature definitions: the one implementation the features service (batch and streaming) and
anything computing features on demand share. The catalogue declares every feature; its names
are the packing order."""

from statmuse_shared.features.catalogue import (
    CATALOGUE,
    FEATURE_SET_VERSION,
    Feature,
    feature_names,
)
from statmuse_shared.features.packing import features_json, in_order, pack, unpack
from statmuse_shared.features.player import (
    STATS,
    Features,
    GameContext,
    PlayerGame,
    PlayerState,
    context_of,
    walk,
)
from statmuse_shared.features.teams import (
    Absent,
    League,
    TeamGame,
    TeamRating,
    TeamReport,
    possessions,
    possessions_of,
)

__all__ = [
    "CATALOGUE",
    "Absent",
    "FEATURE_SET_VERSION",
    "STATS",
    "Feature",
    "Features",
    "GameContext",
    "League",
    "PlayerGame",
    "PlayerState",
    "TeamGame",
    "TeamRating",
    "TeamReport",
    "context_of",
    "feature_names",
    "features_json",
    "in_order",
    "pack",
    "possessions",
    "possessions_of",
    "unpack",
    "walk",
]
