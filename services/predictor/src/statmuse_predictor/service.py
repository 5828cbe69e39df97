"""Pure predictor logic: one vector and the served models -> PredictionMade events; a
pre-game vector and the books' posted lines of its game -> PropPriced events.

Which model predicts is `ModelBook.route`: production, or under A/B routing
(`PREDICTOR_AB_SHARE`) the staged challenger for a fixed share of (player, game date) pairs.
The date is the next game's when the vector knows it, else `as_of`.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from statmuse_predictor.ports import Latest, Posted, Pregame
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import (
    ArmQuote,
    BestPrice,
    BookPrice,
    FeaturesComputed,
    LineProbability,
    PredictionMade,
    PropPriced,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.market import MarketLayer
from statmuse_shared.models.output import ModelInputError, ModelOutput, predict_rows
from statmuse_shared.models.prediction import line_table, quote, summarise
from statmuse_shared.models.serving import Arm, ModelBook, Served
from statmuse_shared.models.shopping import Posted as BookPosted
from statmuse_shared.models.shopping import Shopped, books_fair_over, shop


@dataclass(frozen=True, slots=True)
class Routed:
    """A prediction and the A/B arm whose model made it (the event names only the version)."""

    prediction: PredictionMade
    arm: Arm


def routing_date(vector: FeaturesComputed) -> dt.date | None:
    """The next game's date when the vector carries its game, else None (route by as_of)."""
    return vector.game.game_date if vector.game is not None else None


def prediction_of(
    served: Served, output: ModelOutput, *, player_id: int, player_name: str, as_of: dt.date
) -> PredictionMade:
    """The event for a model output of the served model."""
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
    """One player's vector through the served models of `stats` (`predictions_for_many` of
    one row)."""
    row = Latest(player_id, player_name, as_of, game_date, features)
    return predictions_for_many(book, [row], stats)


def predictions_for_many(
    book: ModelBook, rows: Sequence[Latest], stats: tuple[Stat, ...] = tuple(Stat)
) -> list[Routed]:
    """`predictions_for` of every row, in the same order (row by row, stat by stat), with one
    vectorised model call per served model instead of one per row (a backlog's batch brings
    hundreds of vectors). A row the model cannot use (no usable history for the stat) gets no
    prediction for it; any other error is raised."""
    order = {stat: k for k, stat in enumerate(stats)}
    # (stat, version, served?) -> the model and the rows it predicts: the served arm, and
    # during an A/B test of the key the other arm, priced beside it and never served.
    jobs: dict[tuple[Stat, str, bool], tuple[Served, list[int]]] = {}
    for i, row in enumerate(rows):
        day = row.game_date or row.as_of
        for stat in stats:
            served = book.route(stat, row.player_id, day)
            if served is None:
                continue
            jobs.setdefault((stat, served.info.version, True), (served, []))[1].append(i)
            other = book.other(stat, row.player_id, day)
            if other is not None:
                jobs.setdefault((stat, other.info.version, False), (other, []))[1].append(i)
    outputs: dict[tuple[int, Stat, bool], tuple[Served, ModelOutput]] = {}
    for (stat, _, is_served), (model, positions) in jobs.items():
        results = predict_rows(
            model.model,
            [rows[i].features for i in positions],
            [rows[i].player_id for i in positions],
        )
        for i, output in zip(positions, results, strict=True):
            if isinstance(output, ValueError):  # ModelInputError too: nothing honest to say
                continue
            if isinstance(output, Exception):
                raise output
            outputs[(i, stat, is_served)] = (model, output)
    made: dict[tuple[int, int], Routed] = {}
    for (i, stat, is_served), (served, output) in outputs.items():
        if not is_served:
            continue
        row = rows[i]
        prediction = prediction_of(
            served, output, player_id=row.player_id, player_name=row.player_name, as_of=row.as_of
        )
        beside = outputs.get((i, stat, False))
        if beside is not None:
            prediction = with_other_arm(prediction, served.arm, *beside)
        made[(i, order[stat])] = Routed(prediction, served.arm)
    return [made[k] for k in sorted(made)]


def with_other_arm(
    prediction: PredictionMade, arm: Arm, other: Served, output: ModelOutput
) -> PredictionMade:
    """The served prediction with its A/B arm, and the other arm's prediction of the same
    prop at the same lines (the A/B test settles both at the line it settles the served one)."""
    return prediction.model_copy(
        update={
            "arm": arm,
            "other_arm": ArmQuote(
                arm=other.arm,
                model_version=other.info.version,
                predicted_value=output.distribution.mean,
                lines=line_table(output.distribution, [q.line for q in prediction.lines]),
            ),
        }
    )


def price_props(book: ModelBook, vector: Pregame, posted: Sequence[Posted]) -> list[PropPriced]:
    """Every posted line of one player's game, priced by the model its stat routes the
    (player, game date) pair to: production, or a pinned canary for its share of the pairs (as
    the gateway's /api/predict routes a prop with that game date, so the two agree); one model
    call per
    stat, our P(over) at each line, every book's EV at its own price, and the best price that
    is not an outlier (`statmuse_shared.models.shopping`). A stat without a model, or whose
    model cannot use the vector, is left out."""
    by_stat: defaultdict[Stat, defaultdict[float, list[Posted]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for p in posted:
        by_stat[p.stat][p.line].append(p)
    out = []
    for stat, lines in by_stat.items():
        served = book.route(stat, vector.player_id, vector.game_date, ab=False)
        if served is None:
            continue
        try:
            output = served.model.predict(vector.features, vector.player_id)
        except (ModelInputError, ValueError):
            continue
        # During an A/B test both arms are priced at each line too, for settling the test
        # against the books (the one not answering is never shown).
        arms: list[tuple[Served, ModelOutput]] = []
        for arm in book.arms(stat, vector.player_id) or ():
            try:
                own = (
                    output
                    if arm is served
                    else arm.model.predict(vector.features, vector.player_id)
                )
                arms.append((arm, own))
            except (ModelInputError, ValueError):
                arms = []
                break
        for line, at_line in sorted(lines.items()):
            prices = [BookPosted(p.book, p.over_price, p.under_price) for p in at_line]
            # Our P(over) weighs the books' median de-vigged price where the model has a
            # market layer (what /api/predict gives for the same line and that price).
            fair = books_fair_over(prices)
            q = quote(served.info, output, line=line, books_over=fair)
            shopped = shop(prices, over=q.over_probability, under=q.under_probability)
            ab_arms = [
                arm_at_line(arm, arm_output, line=line, books_over=fair) for arm, arm_output in arms
            ]
            decided = q.over_probability + q.under_probability
            edge = None
            if shopped.fair_over is not None and decided > 0:
                edge = q.over_probability / decided - shopped.fair_over
            posted_prices = [(b.book, b.over_price, b.under_price) for b in shopped.books]
            out.append(
                PropPriced(
                    event_id=ids.event_id(
                        "prop",
                        vector.player_id,
                        vector.game_date,
                        stat.value,
                        line,
                        vector.as_of,
                        served.info.version,
                        posted_prices,
                    ),
                    game_key=at_line[0].game_key,
                    game_date=vector.game_date,
                    player_id=vector.player_id,
                    player_name=vector.player_name,
                    team=vector.team,
                    opponent=vector.opponent,
                    is_home=vector.is_home,
                    stat=stat,
                    line=line,
                    stat_lines=sorted(lines),
                    as_of=vector.as_of,
                    data_as_of=vector.data_as_of,
                    over_probability=q.over_probability,
                    under_probability=q.under_probability,
                    push_probability=q.push_probability,
                    model_over_probability=q.model_over_probability,
                    line_weight=q.line_weight,
                    books=[
                        BookPrice(
                            book=b.book,
                            over_price=b.over_price,
                            under_price=b.under_price,
                            books_over_probability=b.fair_over,
                            expected_value_over=b.ev_over,
                            expected_value_under=b.ev_under,
                            over_outlier=b.over_outlier,
                            under_outlier=b.under_outlier,
                        )
                        for b in shopped.books
                    ],
                    books_over_probability=shopped.fair_over,
                    edge=edge,
                    consensus_over=shopped.consensus_over,
                    consensus_under=shopped.consensus_under,
                    best=None
                    if shopped.best is None
                    else BestPrice(
                        book=shopped.best.book,
                        side=shopped.best.side,
                        price=shopped.best.price,
                        expected_value=shopped.best.expected_value,
                    ),
                    recommendation=recommendation(q.method, output.market, edge, shopped),
                    model_name=served.info.name,
                    model_version=served.info.version,
                    ab_arms=ab_arms,
                )
            )
    return out


def arm_at_line(
    arm: Served, output: ModelOutput, *, line: float, books_over: float | None
) -> ArmQuote:
    """An A/B arm's P(over/under/push) at a posted line, weighed with the books' price as
    its own answer there would be."""
    q = quote(arm.info, output, line=line, books_over=books_over)
    return ArmQuote(
        arm=arm.arm,
        model_version=arm.info.version,
        predicted_value=output.distribution.mean,
        lines=[
            LineProbability(
                line=line,
                over_probability=q.over_probability,
                under_probability=q.under_probability,
                push_probability=q.push_probability,
            )
        ],
    )


def recommendation(
    method: str, layer: MarketLayer | None, edge: float | None, shopped: Shopped
) -> Literal["OVER", "UNDER", "PASS"]:
    """The best price's call, kept only where the edge behind it has an out-of-sample
    record: a market-layer answer recommends a bet only from the layer's `min_edge` up (no
    `min_edge`: never), as /api/predict does."""
    if method != "market_layer" or shopped.recommendation == "PASS":
        return shopped.recommendation
    assert layer is not None
    return shopped.recommendation if layer.recommends(edge) else "PASS"
