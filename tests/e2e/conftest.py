"""A live gateway for end-to-end tests: the real app under uvicorn on a free port, against
real PostgreSQL, Redis and a broker, fed the shipped model bundles and real players' feature
vectors computed from the data files (what its subscribers would have stored)."""

import asyncio
import contextlib
import csv
import datetime as dt
import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import uvicorn

from statmuse_gateway.app import create_app
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.settings import GatewaySettings
from statmuse_ops import stack
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    ModelMetrics,
    ModelPublished,
    PropPriced,
    StatLine,
)
from statmuse_shared.features import League, PlayerGame, walk
from statmuse_shared.features.logs import player_game, team_games
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.count import CountModel
from statmuse_shared.platform.migrations import migrate

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "nba"
MODELS = REPO / "models"
SEASON = "2023-24"
PLAYERS = ("LeBron James", "Anthony Davis", "Stephen Curry")


def _rows(kind: str) -> list[dict[str, str]]:
    with gzip.open(DATA / kind / f"{SEASON}.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


def compute_next_game_vectors(players: tuple[str, ...]) -> list[FeaturesComputed]:
    """Each player's vector for the game after the season's last, with the shared engine (as
    in test_skeleton, for several players from one read of the files)."""
    league = League()
    for game in team_games(_rows("team_game_logs"), SEASON):
        league.add(game)
    games: dict[str, list[tuple[int, PlayerGame]]] = {p: [] for p in players}
    for r in _rows("player_game_logs"):
        if r["PLAYER_NAME"] in games:
            games[r["PLAYER_NAME"]].append(
                (
                    int(r["PLAYER_ID"]),
                    player_game(r, SEASON),
                )
            )
    fsv = CountModel.from_bytes((MODELS / "points.npz").read_bytes()).header.feature_set_version
    out = []
    for name, found in games.items():
        assert found, name
        history = sorted((g for _, g in found), key=lambda g: g.game_date)
        _, state = walk(history, league=league)
        features = state.vector(None, league=league)
        as_of = history[-1].game_date + dt.timedelta(days=1)
        out.append(
            FeaturesComputed(
                event_id=ids.event_id("test", found[0][0], as_of),
                player_id=found[0][0],
                player_name=name,
                team=history[-1].team,
                season=SEASON,
                as_of=as_of,
                feature_set_version=fsv,
                features=features,
                last_game=StatLine(
                    game_date=history[-1].game_date,
                    minutes=history[-1].minutes,
                    points=history[-1].points,
                    rebounds=history[-1].rebounds,
                    assists=history[-1].assists,
                    threes=history[-1].threes,
                ),
            )
        )
    return out


def shipped_models(store: LocalArtifactStore) -> list[ModelPublished]:
    """models/*.npz as production versions, as `statmuse-trainer import-model --promote`
    announces them."""
    events = []
    for path in sorted(MODELS.glob("*.npz")):
        data = path.read_bytes()
        header = CountModel.from_bytes(data).header
        uri, checksum = store.put(f"{header.stat.value}/{path.name}", data)
        sidecar = path.with_suffix(".json")
        metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        version = f"v-test-{header.name}"
        events.append(
            ModelPublished(
                event_id=ids.event_id("model", version, "production"),
                name=header.name,
                version=version,
                stat=header.stat,
                alias="production",
                model_type="count_model",
                artifact_uri=uri,
                checksum=checksum,
                feature_set_version=header.feature_set_version,
                metrics=ModelMetrics.model_validate(metadata.get("metrics", {})),
            )
        )
    return events


class Gateway:
    """The gateway app under uvicorn in a thread with its own event loop."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="on")
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await migrate(self.settings.dsn, schemas=["gateway"])
            await self.server.serve(sockets=[self.sock])

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by `start`
            self.error = exc

    def start(self, deadline_s: float = 90) -> None:
        self.thread.start()
        deadline = time.monotonic() + deadline_s
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway did not start in time")
            self.thread.join(0.05)

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run `coro` on the app's own loop (its pool lives there)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


async def seed(
    rt: GatewayRuntime, vectors: list[FeaturesComputed], models: list[ModelPublished]
) -> None:
    """What the gateway's subscribers do with FeaturesComputed and ModelPublished, and with the
    PropPriced the predictor would publish for the players' next game."""
    await rt.read_model.store_vectors(vectors)
    for event in models:
        await asyncio.to_thread(rt.book.apply, event)
        await rt.read_model.store_model(event)
    await rt.read_model.store_props(priced_props(rt.book, vectors))


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """Settings a test module wants changed (override this fixture in the module)."""
    return {}


@contextlib.contextmanager
def live_gateway(
    infra: Any, database_url: str, kafka_bootstrap: str, store: Path, group: str, **overrides: Any
) -> Iterator[str]:
    """A live gateway serving the shipped models for PLAYERS, seeded; its base URL."""
    settings = GatewaySettings(
        database_url=database_url,
        redis_url=infra.redis_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        artifact_store_url=f"file://{store}",
        group_id=group,
        reports_dir=REPO / "reports",
        # Tests share one Redis, so the per-address rate limit would count every test's
        # requests together; the limit itself is tested in the gateway's integration tests.
        **{"rate_limit_per_minute": 1_000_000, **overrides},
    )
    gw = Gateway(settings)
    gw.start()
    try:
        gw.call(
            seed(
                gw.app.state.runtime,
                compute_next_game_vectors(PLAYERS),
                shipped_models(LocalArtifactStore(store)),
            )
        )
        yield gw.url
    finally:
        gw.stop()


@pytest.fixture
def gateway(
    infra, database_url, kafka_bootstrap, tmp_path, unique, monkeypatch, gateway_overrides
) -> Iterator[str]:
    """The base URL of a live gateway serving the shipped models for PLAYERS."""
    # reports_dir is relative to the working directory when the app does not pass its settings.
    monkeypatch.chdir(REPO)
    with live_gateway(
        infra, database_url, kafka_bootstrap, tmp_path / "artifacts", f"gw-{unique}",
        **gateway_overrides,
    ) as url:  # fmt: skip
        yield url


@pytest.fixture(scope="module")
def module_gateway(infra, tmp_path_factory) -> Iterator[str]:
    """One live gateway for a whole module whose tests only read from it (a start costs
    about 25 s: its consumer groups joining). Its own database and broker, like `gateway`'s."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:16]}"

    async def database(sql: str) -> None:
        admin = await asyncpg.connect(infra.database_url)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(database(f'CREATE DATABASE "{name}"'))
    base, _, _ = infra.database_url.rpartition("/")
    broker = None
    if infra.flavour == "embedded":
        from statmuse_ops.infra import start_broker

        broker = start_broker(tmp_path_factory.mktemp("broker"), port=None)
    bootstrap = broker.url if broker is not None else infra.kafka_bootstrap
    try:
        store = tmp_path_factory.mktemp("artifacts")
        with live_gateway(
            infra, f"{base}/{name}", bootstrap, store, f"gw-{uuid.uuid4().hex[:10]}"
        ) as url:
            yield url
    finally:
        if broker is not None:
            from statmuse_ops.infra import stop

            stop(broker)
        asyncio.run(database(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def next_game_vectors() -> Any:
    """`compute_next_game_vectors` for tests: players' next-game vectors from the data files."""
    return compute_next_game_vectors


def priced_props(book: Any, vectors: list[FeaturesComputed]) -> list[PropPriced]:
    """A slate for the players' next game: the predictor's own pricing (`price_props`) of the
    lines the books last posted for each of them in the bundled prop_lines file, with their
    next-game vector and the shipped models. (The lines are of their last game with lines, so
    only the page's rendering is under test here, not the dates.)"""
    from statmuse_predictor.ports import Posted, Pregame
    from statmuse_predictor.service import price_props
    from statmuse_shared.contract.books import american_odds, canonical_book
    from statmuse_shared.contract.stats import Stat

    by_name = {v.player_name: v for v in vectors}
    lines: dict[str, list[dict[str, str]]] = {}
    path = DATA / "prop_lines" / "2023-24_mar-may_all_markets.csv.gz"
    with gzip.open(path, "rt", newline="") as f:
        for r in csv.DictReader(f):
            if r["player_name"] in by_name:
                lines.setdefault(r["player_name"], []).append(r)
    out: list[PropPriced] = []
    for name, rows in lines.items():
        last = max(r["game_date"] for r in rows)
        v = by_name[name]
        pregame = Pregame(
            v.player_id,
            name,
            v.team,
            v.as_of,
            "DEN",
            True,
            v.as_of,
            v.last_game.game_date if v.last_game else None,
            v.features,
        )
        posted = []
        for r in rows:
            over, under = american_odds(r["over_odds"]), american_odds(r["under_odds"])
            if r["game_date"] == last and over is not None:
                posted.append(
                    Posted(
                        f"{v.as_of}:DEN@{v.team}",
                        Stat(r["market"]),
                        canonical_book(r["bookmaker"]),
                        float(r["line"]),
                        over,
                        under,
                    )
                )
        out.extend(price_props(book, pregame, posted))
    return out


@pytest.fixture
def running_stack(tmp_path, database_url, infra):
    """`statmuse up` in a temporary folder on the test database; every process it started
    is gone after `down`."""
    environ = {"DATABASE_URL": database_url, "REDIS_URL": infra.redis_url}
    s = stack.up(tmp_path / "stack", environ=environ, say=lambda _: None)
    try:
        yield s
    finally:
        pids = [p.pid for p in s.started]
        stack.down(s, say=lambda _: None)
        alive = [
            p
            for p in pids
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        assert alive == [], f"processes left after down: {alive}"
