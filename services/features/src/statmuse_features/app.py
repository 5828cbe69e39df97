"""The features service's composition root: `build_runtime(settings)` wires the broker, the
database, the repository and the engine; `create_app(settings)` is the service (its consumer
plus /health, /ready and /metrics, and the reconcile that, once idle, catches up with the
team boxes other instances stored and recomputes vectors made stale by late team boxes)."""

import datetime as dt
from functools import partial

from starlette.applications import Starlette

from statmuse_features.adapters.postgres import PostgresFeatures
from statmuse_features.engine import Engine
from statmuse_features.handlers import channels, reconcile_when_idle
from statmuse_features.ports import FeatureRepository
from statmuse_features.runtime import FeaturesRuntime
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.db import Database
from statmuse_shared.platform.runtime import service_app


def build_runtime(
    settings: FeaturesSettings,
    *,
    features: FeatureRepository | None = None,
    standalone: bool = False,
) -> FeaturesRuntime:
    """The runtime `create_app` serves; tests pass an in-memory `features`. A member of the
    consumer group owns no partition until the group assigns some; `standalone` computes every
    player (the batch build, and tests on FastStream's test broker, which assigns none)."""
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=FeaturesRuntime.service,
        auth=settings.kafka_auth,
    )
    # No session state on its connections (no LISTEN, session locks, SET or open cursor):
    # a checkout costs no reset query, which a message at a time paid on every message.
    db = Database(settings.dsn, session_state=False)
    if features is None:
        features = PostgresFeatures(db)
    engine = Engine(
        features,
        owned=None if standalone else frozenset(),
        pregame_horizon=dt.timedelta(days=settings.pregame_horizon_days),
    )
    wired = channels(settings, engine=engine)
    broker.include_router(wired.router)
    return FeaturesRuntime(
        settings=settings,
        broker=broker,
        db=db,
        engine=engine,
        features=features,
        publish_features=wired.features,
    )


def create_app(settings: FeaturesSettings) -> Starlette:
    rt = build_runtime(settings)
    return service_app(rt, work=partial(reconcile_when_idle, rt))
