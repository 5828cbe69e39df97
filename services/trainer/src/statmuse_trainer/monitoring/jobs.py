"""The monitoring jobs: read what the trainer stores, run the pure logic off the event loop,
store the results, export the gauges and, on drift, publish `TrainRequested` (once per stat
within the cooldown, across replicas). Everything they read and write goes through the
runtime's repositories and publishers."""

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import TrainRequested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import Features
from statmuse_shared.platform import broker
from statmuse_trainer import metrics
from statmuse_trainer.monitoring import drift
from statmuse_trainer.monitoring.performance import (
    MAX_DAYS_TO_GAME,
    WINDOW_DAYS,
    DayMetrics,
    StoredPrediction,
    day_metrics,
    monitored_line,
    negative_roi_streak,
    settle,
)
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
REQUESTED_BY = "monitor"


@dataclass
class DriftSummary:
    day: dt.date
    reference_rows: int = 0
    recent_rows: int = 0
    reference: str = ""  # what the reference was, in words
    features: list[drift.SeriesDrift] = field(default_factory=list)
    predictions: dict[Stat, list[drift.SeriesDrift]] = field(default_factory=dict)
    decisions: list[drift.StatDecision] = field(default_factory=list)
    published: list[TrainRequested] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return any(d.fire for d in self.decisions)


def rule_of(settings: TrainerSettings) -> drift.DriftRule:
    return drift.DriftRule(
        psi_threshold=settings.drift_psi_threshold,
        ks_alpha=settings.drift_ks_alpha,
        ks_min_statistic=settings.drift_ks_min_statistic,
        min_features=settings.drift_min_features,
        min_samples=settings.drift_min_samples,
    )


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


# --- daily metrics -------------------------------------------------------------------------


async def daily_metrics(
    rt: TrainerRuntime, day: dt.date, *, stats: Sequence[Stat] = tuple(Stat)
) -> list[DayMetrics]:
    """Compute and store the metrics of `day` and the 6 days before it (outcomes that came
    late are counted on the next run), then export the gauges as of `day`."""
    days = [day - dt.timedelta(days=k) for k in range(WINDOW_DAYS - 1, -1, -1)]
    first_game = days[0] - dt.timedelta(days=WINDOW_DAYS - 1)
    first_as_of = first_game - dt.timedelta(days=MAX_DAYS_TO_GAME)
    out: list[DayMetrics] = []
    games = await rt.examples.played_games(first=first_as_of, last=day)
    for stat in stats:
        predictions = await rt.monitor.stored_predictions(stat=stat, first=first_as_of, last=day)
        evaluated = await asyncio.to_thread(settle, predictions, games)
        rows = [day_metrics(stat, d, evaluated) for d in days]
        await rt.monitor.save_day_metrics(rows)
        history = await rt.monitor.roi_history(stat=stat, until=day)
        export_day(rows[-1], negative_roi_streak(history))
        out.extend(rows)
    return out


def export_day(m: DayMetrics, negative_days: int) -> None:
    stat = m.stat.value
    metrics.HIT_RATE_7D.labels(stat).set(_nan(m.hit_rate_7d))
    metrics.BETS_7D.labels(stat).set(m.bets_7d)
    metrics.ECE_7D.labels(stat).set(_nan(m.ece_7d))
    metrics.NEGATIVE_ROI_DAYS.labels(stat).set(negative_days)
    metrics.PREDICTIONS_DAILY.labels(stat).set(m.predictions)


async def restore_gauges(rt: TrainerRuntime) -> None:
    """At start: the gauges from the newest stored day, so a restart does not blank them."""
    for m in await rt.monitor.latest_day_metrics():
        history = await rt.monitor.roi_history(stat=m.stat, until=m.day)
        export_day(m, negative_roi_streak(history))


# --- drift ---------------------------------------------------------------------------------


def feature_columns(
    vectors: Sequence[dict[str, float | None]], names: Sequence[str]
) -> dict[str, drift.Floats]:
    """Vectors to one array per feature, NaN where missing."""
    return {n: drift.as_array([v.get(n) for v in vectors]) for n in names}


def prediction_series(
    predictions: Sequence[StoredPrediction], *, recent_first: dt.date
) -> tuple[dict[str, drift.Floats], dict[str, drift.Floats], str | None]:
    """(reference, recent, model version): the predicted value and P(over) at the monitored
    line, the latest prediction per player and `as_of`, of the model version that made the
    newest prediction only, so a model change is not itself read as drift."""
    if not predictions:
        return {}, {}, None
    version = max(predictions, key=lambda p: p.occurred_at).model_version
    latest: dict[tuple[int, dt.date], StoredPrediction] = {}
    for p in predictions:
        key = (p.player_id, p.as_of)
        if p.model_version == version and (
            key not in latest or p.occurred_at > latest[key].occurred_at
        ):
            latest[key] = p
    sides: tuple[dict[str, list[float | None]], dict[str, list[float | None]]] = (
        {"predicted_value": [], "over_probability": []},
        {"predicted_value": [], "over_probability": []},
    )
    for p in latest.values():
        side = sides[1] if p.as_of >= recent_first else sides[0]
        quote = monitored_line(p)
        side["predicted_value"].append(p.predicted_value)
        side["over_probability"].append(None if quote is None else quote.over_probability)
    reference, recent = ({k: drift.as_array(v) for k, v in s.items()} for s in sides)
    return reference, recent, version


async def _reference_window(
    rt: TrainerRuntime, recent_first: dt.date
) -> tuple[dt.date | None, dt.date, tuple[str, ...], str]:
    """The rows the production models were trained on (their recorded training window), else
    the configured training seasons, else everything stored before the recent window; never
    overlapping the recent window."""
    before = recent_first - dt.timedelta(days=1)
    settings = rt.settings
    windows = await rt.registry.production_training_windows()
    spans = [(w["first_day"], w["last_day"]) for w in windows if "first_day" in w]
    if spans:
        first = min(dt.date.fromisoformat(a) for a, _ in spans)
        last = min(max(dt.date.fromisoformat(b) for _, b in spans), before)
        return first, last, (), f"production models' training window {first}..{last}"
    if settings.train_seasons:
        seasons = settings.train_seasons
        return None, before, seasons, f"training seasons {','.join(seasons)}"
    return None, before, (), f"every stored game before {recent_first}"


async def check_drift(
    rt: TrainerRuntime,
    day: dt.date,
    *,
    publish: bool = True,
    now: dt.datetime | None = None,
    stats: Sequence[Stat] = tuple(Stat),
) -> DriftSummary:
    """Compare the last `monitor_recent_days` days of game vectors ending on `day` with the
    training reference, and each stat's predictions with the window before; store the report,
    export the gauges, and publish TrainRequested(reason="drift") for each stat that drifted
    (unless not `publish`: a dry run)."""
    settings = rt.settings
    now = now or rt.clock()
    rule = rule_of(settings)
    summary = DriftSummary(day)
    recent_first = day - dt.timedelta(days=settings.monitor_recent_days - 1)
    predictions_first = recent_first - dt.timedelta(days=settings.monitor_prediction_reference_days)
    stored: dict[Stat, list[StoredPrediction]] = {}
    fsv = await rt.examples.latest_feature_set()
    reference_rows: list[Features] = []
    recent_rows: list[Features] = []
    if fsv is not None:
        first, last, seasons, summary.reference = await _reference_window(rt, recent_first)
        reference_rows = await rt.examples.feature_sample(
            feature_set_version=fsv,
            first=first,
            last=last,
            seasons=seasons,
            limit=settings.monitor_reference_rows,
        )
        recent_rows = await rt.examples.feature_sample(
            feature_set_version=fsv,
            first=recent_first,
            last=day,
            limit=settings.monitor_reference_rows,
        )
    for stat in stats:
        stored[stat] = await rt.monitor.stored_predictions(
            stat=stat, first=predictions_first, last=day
        )
    summary.reference_rows, summary.recent_rows = len(reference_rows), len(recent_rows)

    def compute() -> None:
        reference, recent = reference_rows, recent_rows
        names = sorted(set().union(*reference, *recent))
        summary.features = drift.compare_all(
            feature_columns(reference, names), feature_columns(recent, names), rule=rule
        )
        for stat in stats:
            before, latest, _ = prediction_series(stored[stat], recent_first=recent_first)
            summary.predictions[stat] = drift.compare_all(before, latest, rule=rule)
            summary.decisions.append(
                drift.decide(stat, summary.features, summary.predictions[stat], rule=rule)
            )

    await asyncio.to_thread(compute)
    reports = {"features": summary.features} | {
        stat.value: rows for stat, rows in summary.predictions.items()
    }
    await rt.monitor.save_drift_reports(day=day, reports=reports)
    for f in summary.features:
        if f.psi is not None:
            metrics.DRIFT_PSI.labels(f.name).set(f.psi)
        if f.ks_statistic is not None:
            metrics.DRIFT_KS.labels(f.name).set(f.ks_statistic)
    for decision in summary.decisions:
        if not decision.fire:
            continue
        log.warning("drift for %s on %s: %s", decision.stat, day, decision.reason)
        if not publish:
            continue
        request = await alert(rt, decision=decision, day=day, now=now)
        if request is not None:
            summary.published.append(request)
    return summary


async def monitor_day(
    rt: TrainerRuntime, day: dt.date, *, publish: bool = True
) -> tuple[list[DayMetrics], DriftSummary]:
    """`statmuse-trainer monitor`: the day's metrics (stored, gauges exported), one drift
    check (publishing requests unless not `publish`) and the A/B reports (published unless
    not `publish`); returns the day's rows and the check."""
    from statmuse_trainer.monitoring.ab import ab_reports

    rows = await daily_metrics(rt, day)
    summary = await check_drift(rt, day, publish=publish)
    await ab_reports(rt, day, publish=publish)
    return [m for m in rows if m.day == day], summary


def drift_request(stat: Stat, day: dt.date, settings: TrainerSettings) -> TrainRequested:
    return TrainRequested(
        event_id=ids.event_id("train-request", "drift", stat.value, day),
        stat=stat,
        model_kind=settings.retrain_model_kind,
        reason="drift",
        requested_by=REQUESTED_BY,
        promote=settings.retrain_promote,
    )


async def alert(
    rt: TrainerRuntime, *, decision: drift.StatDecision, day: dt.date, now: dt.datetime
) -> TrainRequested | None:
    """Publish the stat's drift TrainRequested unless one went out within the cooldown. The
    stat's alert lock serialises replicas: the second waits, then sees the first one's alert
    row. The row and the publish share the transaction, so a publish that fails leaves no
    row and the next run tries again."""
    request = drift_request(decision.stat, day, rt.settings)
    cooldown = dt.timedelta(hours=rt.settings.drift_cooldown_hours)
    async with rt.monitor.drift_alerts(decision.stat) as alerts:
        last = await alerts.last()
        if last is not None and now - last < cooldown:
            log.info(
                "drift for %s: an alert went out at %s; within the cooldown, not again",
                decision.stat,
                last.isoformat(),
            )
            return None
        await alerts.record(
            day=day,
            fired_at=now,
            event_id=request.event_id,
            reason=decision.reason,
            features=[*decision.drifted_features, *decision.drifted_predictions],
        )
        await broker.publish(rt.publish_train_requests, request, key=decision.stat.value.encode())
    metrics.DRIFT_ALERTS.labels(decision.stat.value).inc()
    log.warning("drift alert for %s: TrainRequested %s published", decision.stat, request.event_id)
    return request


# --- scheduled retrain requests ------------------------------------------------------------


async def request_player_retrains(
    rt: TrainerRuntime, day: dt.date, *, after: dt.date
) -> list[TrainRequested]:
    """When players have games in (after, day]: one retrain of every stat, which refits every
    player's head (`model_kind="per_player"`, answered by the stat's full retrain). Nothing
    when nobody played."""
    players = await rt.examples.players_with_games(after=after, until=day)
    if not players:
        return []
    requests = [
        TrainRequested(
            event_id=ids.event_id("train-request", "daily", stat.value, day),
            stat=stat,
            model_kind="per_player",
            reason="schedule",
            requested_by="scheduler",
            promote=rt.settings.retrain_promote,
        )
        for stat in Stat
    ]
    await _publish(rt, requests)
    return requests


async def request_full_retrains(rt: TrainerRuntime, day: dt.date) -> list[TrainRequested]:
    """The weekly full retrain: a TrainRequested for every stat."""
    requests = [
        TrainRequested(
            event_id=ids.event_id("train-request", "weekly", stat.value, day),
            stat=stat,
            model_kind=rt.settings.retrain_model_kind,
            reason="schedule",
            requested_by="scheduler",
            promote=rt.settings.retrain_promote,
        )
        for stat in Stat
    ]
    await _publish(rt, requests)
    return requests


async def _publish(rt: TrainerRuntime, requests: Sequence[TrainRequested]) -> None:
    """On the commands topic, keyed by stat (one stat's requests stay in order)."""
    await broker.publish_many(
        rt.publish_train_requests, [(r.stat.value.encode(), r) for r in requests]
    )
