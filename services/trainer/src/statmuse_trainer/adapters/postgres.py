"""Schema `registry` through asyncpg."""

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from statmuse_shared.contract.messages import FeaturesComputed, ModelPublished, PredictionMade
from statmuse_shared.contract.stats import Stat
from statmuse_trainer.monitoring.performance import (
    DayMetrics,
    LineQuote,
    PlayedGame,
    StoredPrediction,
)
from statmuse_trainer.training.baseline import Example
from statmuse_trainer.training.dataset import Row


async def upsert_examples(*, conn: asyncpg.Connection, vectors: Sequence[FeaturesComputed]) -> int:
    """Store the vectors of played games (they carry their outcome); returns how many."""
    played = [v for v in vectors if v.kind == "game" and v.outcome is not None]
    await conn.executemany(
        """INSERT INTO registry.training_examples (player_id, as_of, feature_set_version,
               season, features, last_game, outcome, game_date, event_id, player_name)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10)
           ON CONFLICT (player_id, as_of, feature_set_version) DO UPDATE
           SET season = EXCLUDED.season, features = EXCLUDED.features,
               player_name = EXCLUDED.player_name,
               last_game = EXCLUDED.last_game, outcome = EXCLUDED.outcome,
               game_date = EXCLUDED.game_date, event_id = EXCLUDED.event_id
           WHERE registry.training_examples.event_id IS DISTINCT FROM EXCLUDED.event_id""",
        [
            (
                v.player_id,
                v.as_of,
                v.feature_set_version,
                v.season,
                json.dumps(v.features),
                v.last_game.model_dump_json() if v.last_game else None,
                v.outcome.model_dump_json() if v.outcome else None,
                v.game.game_date if v.game else None,
                v.event_id,
                v.player_name,
            )
            for v in played
        ],
    )
    return len(played)


async def labelled_examples(
    *, conn: asyncpg.Connection, stat: Stat, feature_set_version: str, seasons: Sequence[str]
) -> list[Example]:
    """Game vectors with the stat's actual value in that game as the label."""
    label = (
        "(outcome->>'points')::float + (outcome->>'rebounds')::float + (outcome->>'assists')::float"
        if stat is Stat.PRA
        else f"(outcome->>'{stat.value}')::float"
    )
    rows = await conn.fetch(
        f"""SELECT features::text AS features, {label} AS label
            FROM registry.training_examples
            WHERE feature_set_version = $1 AND outcome IS NOT NULL
              AND (cardinality($2::text[]) = 0 OR season = ANY($2::text[]))""",
        feature_set_version,
        list(seasons),
    )
    return [Example(json.loads(r["features"]), r["label"]) for r in rows if r["label"] is not None]


async def latest_feature_set(*, conn: asyncpg.Connection) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT feature_set_version FROM registry.training_examples "
        "ORDER BY received_at DESC LIMIT 1"
    )
    return value


async def next_version(*, conn: asyncpg.Connection, base: str) -> str:
    taken = await conn.fetchval(
        "SELECT count(*) FROM registry.model_versions WHERE version = $1 OR version LIKE $2",
        base,
        f"{base}-r%",
    )
    return base if taken == 0 else f"{base}-r{taken + 1}"


async def register(
    *, conn: asyncpg.Connection, published: ModelPublished, metadata: dict[str, Any] | None = None
) -> None:
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO registry.model_versions (version, name, stat, player_id, model_type,
                   artifact_uri, checksum, feature_set_version, dataset_version, metrics,
                   metadata)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb)""",
            published.version,
            published.name,
            published.stat.value,
            published.player_id,
            published.model_type,
            published.artifact_uri,
            published.checksum,
            published.feature_set_version,
            published.dataset_version,
            published.metrics.model_dump_json(),
            json.dumps(metadata or {}),
        )
        await set_alias(
            conn=conn, key=published.key, alias=published.alias, version=published.version
        )


async def set_alias(*, conn: asyncpg.Connection, key: str, alias: str, version: str) -> None:
    await conn.execute(
        """INSERT INTO registry.aliases (serving_key, alias, version) VALUES ($1, $2, $3)
           ON CONFLICT (serving_key, alias) DO UPDATE
           SET version = EXCLUDED.version, updated_at = now()""",
        key,
        alias,
        version,
    )
    await conn.execute(
        "INSERT INTO registry.alias_history (serving_key, alias, version) VALUES ($1, $2, $3)",
        key,
        alias,
        version,
    )


async def dataset_rows(
    *, conn: asyncpg.Connection, feature_set_version: str, seasons: Sequence[str]
) -> list[Row]:
    """Every stored game vector with its outcome, for some seasons."""
    records = await conn.fetch(
        """SELECT player_id, season, game_date, as_of, features::text AS f, outcome::text AS o,
                  player_name
           FROM registry.training_examples
           WHERE feature_set_version = $1 AND outcome IS NOT NULL AND season = ANY($2::text[])
           ORDER BY game_date, player_id""",
        feature_set_version,
        list(seasons),
    )
    return [
        Row(
            r["player_id"],
            r["season"],
            r["game_date"],
            r["as_of"],
            json.loads(r["f"]),
            json.loads(r["o"]),
            r["player_name"],
        )
        for r in records
    ]


async def alias_version(*, conn: asyncpg.Connection, key: str, alias: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT version FROM registry.aliases WHERE serving_key = $1 AND alias = $2", key, alias
    )
    return value


async def previous_production(*, conn: asyncpg.Connection, key: str, current: str) -> str | None:
    """The latest version, other than `current`, that was production for `key`."""
    value: str | None = await conn.fetchval(
        """SELECT version FROM registry.alias_history
           WHERE serving_key = $1 AND alias = 'production' AND version <> $2
           ORDER BY id DESC LIMIT 1""",
        key,
        current,
    )
    return value


async def version_row(*, conn: asyncpg.Connection, version: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT version, name, stat, player_id, model_type, artifact_uri, checksum,
                  feature_set_version, dataset_version, metrics::text AS metrics,
                  (SELECT max(id) FROM registry.alias_history WHERE version = $1) AS moved
           FROM registry.model_versions WHERE version = $1""",
        version,
    )
    if row is None:
        raise LookupError(f"no model version {version}")
    return row


# --- monitoring (migration 0005) -----------------------------------------------------------


async def store_predictions(*, conn: asyncpg.Connection, made: Sequence[PredictionMade]) -> int:
    """Store predictions heard on the predictions topic, once per event id; returns how many
    were new."""
    rows = [
        (
            p.event_id,
            p.player_id,
            p.stat.value,
            p.as_of,
            p.predicted_value,
            json.dumps([q.model_dump() for q in p.lines]),
            p.model_version,
            p.occurred_at,
        )
        for p in made
    ]
    if not rows:
        return 0
    inserted: int = await conn.fetchval(
        """WITH new AS (
               INSERT INTO registry.monitor_predictions (event_id, player_id, stat, as_of,
                   predicted_value, lines, model_version, occurred_at)
               SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::date[],
                                    $5::float8[], $6::jsonb[], $7::text[], $8::timestamptz[])
               ON CONFLICT (event_id) DO NOTHING
               RETURNING 1)
           SELECT count(*) FROM new""",
        *[list(column) for column in zip(*rows, strict=True)],
    )
    return inserted


async def stored_predictions(
    *, conn: asyncpg.Connection, stat: Stat, first: dt.date, last: dt.date
) -> list[StoredPrediction]:
    """The stat's predictions with `as_of` in [first, last]."""
    records = await conn.fetch(
        """SELECT event_id, player_id, as_of, predicted_value, lines::text AS lines,
                  model_version, occurred_at
           FROM registry.monitor_predictions
           WHERE stat = $1 AND as_of BETWEEN $2 AND $3""",
        stat.value,
        first,
        last,
    )
    return [
        StoredPrediction(
            event_id=r["event_id"],
            player_id=r["player_id"],
            stat=stat,
            as_of=r["as_of"],
            predicted_value=r["predicted_value"],
            lines=tuple(
                LineQuote(
                    q["line"], q["over_probability"], q["under_probability"], q["push_probability"]
                )
                for q in json.loads(r["lines"])
            ),
            model_version=r["model_version"],
            occurred_at=r["occurred_at"],
        )
        for r in records
    ]


async def played_games(
    *, conn: asyncpg.Connection, first: dt.date, last: dt.date
) -> list[PlayedGame]:
    """Every player's played games (outcome known) dated in [first, last], once each even
    when several feature-set versions stored the game."""
    records = await conn.fetch(
        """SELECT DISTINCT ON (player_id, game_date) player_id, game_date,
                  outcome::text AS outcome
           FROM registry.training_examples
           WHERE outcome IS NOT NULL AND game_date BETWEEN $1 AND $2
           ORDER BY player_id, game_date, received_at DESC""",
        first,
        last,
    )
    out = []
    for r in records:
        outcome = json.loads(r["outcome"])
        out.append(
            PlayedGame(
                r["player_id"],
                r["game_date"],
                float(outcome.get("minutes") or 0),
                {k: outcome.get(k) for k in ("points", "rebounds", "assists", "threes")},
            )
        )
    return out


async def save_day_metrics(*, conn: asyncpg.Connection, rows: Sequence[DayMetrics]) -> None:
    await conn.executemany(
        """INSERT INTO registry.monitor_daily_metrics (stat, day, predictions, bets, wins,
               losses, pushes, hit_rate, brier, ece, roi, profit, mean_over_probability,
               over_rate, bets_7d, hit_rate_7d, ece_7d)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT (stat, day) DO UPDATE SET predictions = EXCLUDED.predictions,
               bets = EXCLUDED.bets, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
               pushes = EXCLUDED.pushes, hit_rate = EXCLUDED.hit_rate, brier = EXCLUDED.brier,
               ece = EXCLUDED.ece, roi = EXCLUDED.roi, profit = EXCLUDED.profit,
               mean_over_probability = EXCLUDED.mean_over_probability,
               over_rate = EXCLUDED.over_rate, bets_7d = EXCLUDED.bets_7d,
               hit_rate_7d = EXCLUDED.hit_rate_7d, ece_7d = EXCLUDED.ece_7d,
               computed_at = now()""",
        [
            (
                m.stat.value,
                m.day,
                m.predictions,
                m.bets,
                m.wins,
                m.losses,
                m.pushes,
                m.hit_rate,
                m.brier,
                m.ece,
                m.roi,
                m.profit,
                m.mean_over_probability,
                m.over_rate,
                m.bets_7d,
                m.hit_rate_7d,
                m.ece_7d,
            )
            for m in rows
        ],
    )


async def roi_history(
    *, conn: asyncpg.Connection, stat: Stat, until: dt.date, days: int = 366
) -> list[tuple[dt.date, int, float | None]]:
    """(day, bets, roi) of the stat's stored days up to `until`, newest first."""
    records = await conn.fetch(
        """SELECT day, bets, roi FROM registry.monitor_daily_metrics
           WHERE stat = $1 AND day <= $2 ORDER BY day DESC LIMIT $3""",
        stat.value,
        until,
        days,
    )
    return [(r["day"], r["bets"], r["roi"]) for r in records]


async def latest_day_metrics(
    *, conn: asyncpg.Connection, until: dt.date | None = None
) -> list[asyncpg.Record]:
    """Each stat's newest stored day (up to `until`)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT DISTINCT ON (stat) * FROM registry.monitor_daily_metrics
           WHERE $1::date IS NULL OR day <= $1 ORDER BY stat, day DESC""",
        until,
    )
    return rows


async def production_training_windows(*, conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The training windows (`metadata.training_window`) of the stats' production models."""
    records = await conn.fetch(
        """SELECT m.metadata->'training_window' AS w FROM registry.aliases a
           JOIN registry.model_versions m ON m.version = a.version
           WHERE a.alias = 'production' AND a.serving_key = m.stat
             AND m.metadata ? 'training_window'"""
    )
    return [json.loads(r["w"]) for r in records if r["w"] is not None]


async def feature_sample(
    *,
    conn: asyncpg.Connection,
    feature_set_version: str,
    first: dt.date | None,
    last: dt.date | None,
    seasons: Sequence[str] = (),
    limit: int,
) -> list[str]:
    """Game vectors (features as JSON text) dated in [first, last] (open ends allowed) and in
    `seasons` (empty: any), at most `limit` of them, sampled by a hash of the row's key so
    the same rows come back every run."""
    records = await conn.fetch(
        """SELECT features::text AS f FROM registry.training_examples
           WHERE feature_set_version = $1 AND game_date IS NOT NULL
             AND ($2::date IS NULL OR game_date >= $2) AND ($3::date IS NULL OR game_date <= $3)
             AND (cardinality($4::text[]) = 0 OR season = ANY($4::text[]))
           ORDER BY md5(player_id::text || ':' || as_of::text) LIMIT $5""",
        feature_set_version,
        first,
        last,
        list(seasons),
        limit,
    )
    return [r["f"] for r in records]


async def save_drift_reports(
    *, conn: asyncpg.Connection, day: dt.date, scope: str, rows: Sequence[Any]
) -> None:
    """Rows are `drift.SeriesDrift`; a rerun for the same day replaces them."""
    await conn.executemany(
        """INSERT INTO registry.monitor_drift_reports (day, scope, name, psi, ks_statistic,
               ks_pvalue, reference_n, recent_n, reference_missing, recent_missing, drifted,
               counted)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (day, scope, name) DO UPDATE SET psi = EXCLUDED.psi,
               ks_statistic = EXCLUDED.ks_statistic, ks_pvalue = EXCLUDED.ks_pvalue,
               reference_n = EXCLUDED.reference_n, recent_n = EXCLUDED.recent_n,
               reference_missing = EXCLUDED.reference_missing,
               recent_missing = EXCLUDED.recent_missing, drifted = EXCLUDED.drifted,
               counted = EXCLUDED.counted, computed_at = now()""",
        [
            (
                day,
                scope,
                r.name,
                r.psi,
                r.ks_statistic,
                r.ks_pvalue,
                r.reference_n,
                r.recent_n,
                r.reference_missing,
                r.recent_missing,
                r.drifted,
                r.counted,
            )
            for r in rows
        ],
    )


async def last_drift_alert(*, conn: asyncpg.Connection, stat: Stat) -> dt.datetime | None:
    value: dt.datetime | None = await conn.fetchval(
        "SELECT max(fired_at) FROM registry.monitor_drift_alerts WHERE stat = $1", stat.value
    )
    return value


async def record_drift_alert(
    *,
    conn: asyncpg.Connection,
    stat: Stat,
    day: dt.date,
    fired_at: dt.datetime,
    event_id: str,
    reason: str,
    features: Sequence[str],
) -> None:
    await conn.execute(
        """INSERT INTO registry.monitor_drift_alerts (stat, day, fired_at, event_id, reason,
               features) VALUES ($1, $2, $3, $4, $5, $6)""",
        stat.value,
        day,
        fired_at,
        event_id,
        reason,
        list(features),
    )


async def scheduled_run_done(*, conn: asyncpg.Connection, job: str, run_key: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM registry.scheduled_runs WHERE job = $1 AND run_key = $2)",
            job,
            run_key,
        )
    )


async def record_scheduled_run(
    *, conn: asyncpg.Connection, job: str, run_key: str, detail: dict[str, Any]
) -> None:
    await conn.execute(
        """INSERT INTO registry.scheduled_runs (job, run_key, detail) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (job, run_key) DO UPDATE
           SET finished_at = now(), detail = EXCLUDED.detail""",
        job,
        run_key,
        json.dumps(detail),
    )


async def last_scheduled_run(*, conn: asyncpg.Connection, job: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT run_key FROM registry.scheduled_runs WHERE job = $1 ORDER BY run_key DESC LIMIT 1",
        job,
    )
    return value


async def players_with_games(
    *, conn: asyncpg.Connection, after: dt.date, until: dt.date
) -> list[int]:
    """Players with a played game dated in (after, until]."""
    records = await conn.fetch(
        """SELECT DISTINCT player_id FROM registry.training_examples
           WHERE outcome IS NOT NULL AND game_date > $1 AND game_date <= $2
           ORDER BY player_id""",
        after,
        until,
    )
    return [r["player_id"] for r in records]
