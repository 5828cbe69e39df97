"""Pure predictor logic: one vector and the served models -> PredictionMade events.

Which model predicts is `ModelBook.route`: production, or under A/B routing
(`PREDICTOR_AB_SHARE`) the staged challenger for a fixed share of (player, game date) pairs.
The date is the next game's when the vector knows it, else `as_of`.
"""

import datetime as dt
from dataclasses import dataclass

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.output import ModelInputError
from statmuse_shared.models.prediction import line_table, summarise
from statmuse_shared.models.serving import Arm, ModelBook, Served


@dataclass(frozen=True, slots=True)
class Routed:
    """A prediction and the A/B arm whose model made it (the event names only the version)."""

    prediction: PredictionMade
    arm: Arm


def routing_date(vector: FeaturesComputed) -> dt.date | None:
    """The next game's date when the vector carries its game, else None (route by as_of)."""
    return vector.game.game_date if vector.game is not None else None


def prediction_for(
    served: Served,
    *,
    player_id: int,
    player_name: str,
    as_of: dt.date,
    features: dict[str, float | None],
) -> PredictionMade:
    output = served.model.predict(features, player_id)
    return PredictionMade(
        event_id=ids.event_id(
            "prediction", player_id, served.info.stat.value, as_of, served.info.version
        ),
        player_id=player_id,
        player_name=player_name,
        stat=served.info.stat,
        as_of=as_of,
        predicted_value=output.distribution.mean,
        distribution=summarise(output.distribution),
        lines=line_table(output.distribution),
        model_name=served.info.name,
        model_version=served.info.version,
    )


def predictions_for(
    book: ModelBook,
    *,
    player_id: int,
    player_name: str,
    as_of: dt.date,
    features: dict[str, float | None],
    game_date: dt.date | None = None,
    stats: tuple[Stat, ...] = tuple(Stat),
) -> list[Routed]:
    out = []
    for stat in stats:
        served = book.route(stat, player_id, game_date or as_of)
        if served is None:
            continue
        try:
            made = prediction_for(
                served,
                player_id=player_id,
                player_name=player_name,
                as_of=as_of,
                features=features,
            )
        except (ModelInputError, ValueError):
            continue  # e.g. no usable history for this stat; nothing honest to say
        out.append(Routed(made, served.arm))
    return out
