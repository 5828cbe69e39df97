"""Feature definitions: the one implementation the features service (batch and streaming) and
anything computing features on demand share."""

from statmuse_shared.features.player import (
    FEATURE_SET_VERSION,
    STATS,
    Features,
    GameContext,
    PlayerGame,
    PlayerState,
    context_of,
    feature_names,
    walk,
)
from statmuse_shared.features.teams import League, TeamGame, TeamRating, possessions, possessions_of

__all__ = [
    "FEATURE_SET_VERSION",
    "STATS",
    "Features",
    "GameContext",
    "League",
    "PlayerGame",
    "PlayerState",
    "TeamGame",
    "TeamRating",
    "context_of",
    "feature_names",
    "possessions",
    "possessions_of",
    "walk",
]
