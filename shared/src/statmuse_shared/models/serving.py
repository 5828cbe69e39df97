"""Serving: the models a process holds (`ModelBook`), and `predict`: a served model's output for
a feature vector, priced at a line by `prediction.quote`.

Predictor and gateway both serve models, so both use this. `ModelBook` follows
`nba.models.published.v1`; swapping a model replaces one dict entry, so a request that already
took the old model finishes with it and no request ever sees a half-loaded one.

A/B routing (the predictor's `PREDICTOR_AB_SHARE`): with `ab_share > 0` the book also loads the
`staging` model of each serving key (the challenger), and `route` sends a fixed share of
(player, game date) pairs to it. A version an admin pinned (`ModelPublished.mode`) is loaded
whatever `ab_share` is: a canary serves its own `share`, a shadow none (the predictor prices it
beside production for the A/B test, and nobody is answered with it). The bucket of a pair is
sha256(f"{player_id}:{date}") read as a number in [0, 1); a pair goes to the challenger when
its bucket is below the share. The rule
uses no process state (Python's `hash()` is salted per process), so every replica, restart and
replay routes a pair the same way, and a player's predictions for one day come from one arm.
"""

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Literal

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import ArtifactStore, load_model
from statmuse_shared.models.output import Model
from statmuse_shared.models.prediction import Prediction, quote
from statmuse_shared.models.pricing import DEFAULT_AMERICAN_ODDS

log = logging.getLogger(__name__)

Arm = Literal["production", "challenger"]


@dataclass(frozen=True, slots=True)
class Served:
    info: ModelPublished
    model: Model

    @property
    def arm(self) -> Arm:
        """The A/B arm: a staged model is the challenger, anything else production."""
        return "challenger" if self.info.alias == "staging" else "production"


def ab_bucket(player_id: int, game_date: dt.date) -> float:
    """A stable, uniform number in [0, 1) for a (player, date) pair, the same in every process."""
    digest = hashlib.sha256(f"{player_id}:{game_date.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class ModelBook:
    """Production model per serving key (`<stat>` or `<stat>:<player_id>`), and with A/B on
    (`ab_share > 0`) the staged challenger per key too.

    `ab_share` is the share of (player, date) pairs a key with a staged model serves from it;
    0 (the default) turns A/B off: staged models are then neither loaded nor served.
    """

    store: ArtifactStore
    ab_share: float = 0.0
    production: dict[str, Served] = field(default_factory=dict)
    staging: dict[str, Served] = field(default_factory=dict)
    known: dict[str, ModelPublished] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.ab_share <= 1.0:  # also refuses NaN
            raise ValueError(f"ab_share must be in [0, 1], got {self.ab_share}")

    def apply(self, event: ModelPublished) -> bool:
        """Fold one event in; returns True when what its key serves changed: the production
        model, or (A/B on) the challenger."""
        self.known[event.version] = event
        if event.alias == "staging":
            return self._stage(event)
        changed = False
        if event.alias == "production":
            current = self.production.get(event.key)
            if current is None or current.info.version != event.version:
                self.production[event.key] = self._load(event)  # atomic swap
                log.info("serving %s for %s", event.version, event.key)
                changed = True
        # Promoted or archived, the version is no longer a challenger.
        staged = self.staging.get(event.key)
        if staged is not None and staged.info.version == event.version:
            del self.staging[event.key]
            log.info("%s no longer challenges for %s (%s)", event.version, event.key, event.alias)
            changed = True
        return changed

    def _stage(self, event: ModelPublished) -> bool:
        if self.ab_share == 0.0 and event.mode is None:
            # Nothing would route to it: not loaded. But it took the key's staged alias, so a
            # pin held for the key is staged no more (an unpin would name the new version).
            if self.staging.pop(event.key, None) is not None:
                log.info("%s staged for %s: the pinned version is off", event.version, event.key)
                return True
            return False
        current = self.staging.get(event.key)
        if current is not None and current.info.version == event.version:
            if (current.info.mode, current.info.share) == (event.mode, event.share):
                return False
            self.staging[event.key] = Served(event, current.model)  # re-pinned: new mode
            log.info("%s for %s is now %s", event.version, event.key, event.mode or "staged")
            return True
        self.staging[event.key] = self._load(event)  # a newer staged version replaces the old
        log.info("challenger %s for %s (share %.2f)", event.version, event.key, self.ab_share)
        return True

    def _load(self, event: ModelPublished) -> Served:
        staged = self.staging.get(event.key)
        if staged is not None and staged.info.checksum == event.checksum:
            return Served(event, staged.model)  # promoting the challenger: same bytes, no reread
        return Served(
            event, load_model(self.store.get(event.artifact_uri, checksum=event.checksum))
        )

    def for_stat(self, stat: Stat, player_id: int | None = None) -> Served | None:
        """The production model: the player's own if there is one, else the stat's."""
        if player_id is not None and (hit := self.production.get(f"{stat.value}:{player_id}")):
            return hit
        return self.production.get(stat.value)

    def route(
        self, stat: Stat, player_id: int, game_date: dt.date, *, ab: bool = True
    ) -> Served | None:
        """The model for this player's game under A/B routing.

        The key is chosen as in `for_stat` (the player's key if it has a production model, else
        the stat's); within it, the staged challenger serves the pairs whose `ab_bucket` is
        below its share (`share_of`), production serves the rest and every pair when nothing
        is staged. `ab=False`: only a pinned canary's share counts (what the gateway answers
        with, whose book has no A/B share), so the slate agrees with /api/predict.
        """
        for key in (f"{stat.value}:{player_id}", stat.value):
            production = self.production.get(key)
            if production is None:
                continue
            challenger = self.staging.get(key)
            if challenger is not None and ab_bucket(player_id, game_date) < self.share_of(
                challenger, ab=ab
            ):
                return challenger
            return production
        return None

    def share_of(self, challenger: Served, *, ab: bool = True) -> float:
        """The share of pairs a staged model serves: a pinned canary's own share, none for a
        shadow, else the book's `ab_share` (none with `ab=False`)."""
        if challenger.info.mode == "canary":
            return challenger.info.share or 0.0
        if challenger.info.mode == "shadow" or not ab:
            return 0.0
        return self.ab_share

    def arms(self, stat: Stat, player_id: int) -> tuple[Served, Served] | None:
        """(production, challenger) of the key `route` chooses, while it has a staged (or
        pinned) version: an A/B test's two arms; else None."""
        for key in (f"{stat.value}:{player_id}", stat.value):
            production = self.production.get(key)
            if production is None:
                continue
            challenger = self.staging.get(key)
            return None if challenger is None else (production, challenger)
        return None

    def other(self, stat: Stat, player_id: int, game_date: dt.date) -> Served | None:
        """During an A/B test of the key `route` chooses, the arm it did not choose (priced
        beside the served one so the test compares both on the same props); else None."""
        arms = self.arms(stat, player_id)
        if arms is None:
            return None
        production, challenger = arms
        return production if self.route(stat, player_id, game_date) is challenger else challenger


def predict(
    served: Served,
    features: dict[str, float | None],
    *,
    line: float,
    odds_over: int = DEFAULT_AMERICAN_ODDS,
    odds_under: int = DEFAULT_AMERICAN_ODDS,
    player_id: int | None = None,
    books_over: float | None = None,
) -> Prediction:
    """The served model's output for one feature vector, priced at `line` (`quote`)."""
    output = served.model.predict(features, player_id)
    return quote(
        served.info,
        output,
        line=line,
        odds_over=odds_over,
        odds_under=odds_under,
        books_over=books_over,
    )
