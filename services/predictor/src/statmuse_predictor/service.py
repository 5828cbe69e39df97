"""Pure predictor logic: one vector and the served models -> PredictionMade events."""

import datetime as dt

from statmuse_shared import ids
from statmuse_shared.messages import PredictionMade
from statmuse_shared.models import ModelInputError
from statmuse_shared.serving import ModelBook, Served, line_table, summarise
from statmuse_shared.stats import Stat


def prediction_for(
    served: Served,
    *,
    player_id: int,
    player_name: str,
    as_of: dt.date,
    features: dict[str, float | None],
) -> PredictionMade:
    output = served.model.predict(features)
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
    stats: tuple[Stat, ...] = tuple(Stat),
) -> list[PredictionMade]:
    out = []
    for stat in stats:
        served = book.for_stat(stat, player_id)
        if served is None:
            continue
        try:
            out.append(
                prediction_for(
                    served,
                    player_id=player_id,
                    player_name=player_name,
                    as_of=as_of,
                    features=features,
                )
            )
        except (ModelInputError, ValueError):
            continue  # e.g. no usable history for this stat; nothing honest to say
    return out
