"""The model registry in MLflow: every registered version is an MLflow model version, made
from an MLflow run that holds its parameters, validation metrics, reports and bundle.

MLflow is the one source of truth for which version serves. A serving key ("points",
"points:2544") is the registered model `statmuse-points` (`statmuse-points-2544`); its
`champion` alias is what the predictor and gateway serve as production, its `challenger` the
staged version (served to the A/B share). An archived version has no alias and an
`statmuse.archived_at` tag. Our version names ("v2026-12-07-points-voting") and what
`ModelPublished` carries are tags on the MLflow version (`statmuse.*`); the version a champion
replaced is its `statmuse.previous_champion` tag, which rollback follows.

PostgreSQL keeps what MLflow cannot: the commands carried out (`registry.processed_commands`,
so a repeated command moves nothing) and the audit log of moves (`registry.alias_history`:
what moved where, when, and at whose request), which is history and never read to decide what
serves. A session holds a transaction-scoped advisory lock, so two trainer replicas never
interleave their moves; MLflow calls are made in worker threads (the client is synchronous).
"""

import asyncio
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from statmuse_shared.contract.messages import ModelMetrics, ModelPublished, ModelTracking
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.db import Database
from statmuse_trainer.ports import VersionRow

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

T = TypeVar("T")

EXPERIMENT = "statmuse-training"
# Our aliases (what ModelPublished says) -> MLflow's.
MLFLOW_ALIAS = {"production": "champion", "staging": "challenger"}
TAG = "statmuse."
# Any two registry sessions, on any replica, take turns (moves are rare and short).
LOCK_ID = 0x5EA7_0001
# Our version names, the only strings that go into an MLflow search filter.
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
# The day a version was trained on, from its name ("v2026-12-07-points-voting").
TRAINED_ON = re.compile(r"^v(\d{4}-\d{2}-\d{2})-")


class RegistryUnavailable(RuntimeError):
    """MLflow did not answer (or answered with a server error)."""


def registered_name(key: str) -> str:
    """The MLflow registered model of a serving key: 'points:2544' -> 'statmuse-points-2544'."""
    return "statmuse-" + key.replace(":", "-")


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def run_params(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The run's parameters: the chosen candidate, its parts and weights, every candidate's
    hyper-parameters, the heads kept, and where the training data came from."""
    params: dict[str, Any] = {
        "chosen": metadata.get("chosen"),
        "parts": ",".join(metadata.get("parts") or []),
        "weights": ",".join(f"{w:g}" for w in metadata.get("weights") or []),
        "dataset_version": metadata.get("dataset_version"),
        "validation": metadata.get("validation"),
    }
    _flat("heads", metadata.get("heads") or {}, params)
    _flat("params", metadata.get("params") or {}, params)
    _flat("training_window", metadata.get("training_window") or {}, params)
    # MLflow keeps parameter values up to 6,000 characters.
    return {k: str(v)[:6000] for k, v in params.items() if v is not None and v != ""}


def run_metrics(metadata: Mapping[str, Any]) -> dict[str, float]:
    """The run's metrics by split: `validation.*` for the served model (its Brier, log loss
    and ECE at the calibrated lines, MAE, RMSE), `train.n`/`validation.n` for the split
    sizes, and `candidate.<name>.*` for every candidate on the validation split."""
    metrics = dict(metadata.get("metrics") or {})
    out: dict[str, float] = {}
    for split in ("train", "validation"):
        n = metrics.pop(f"n_{split}", None)
        if isinstance(n, int | float):
            out[f"{split}.n"] = float(n)
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"validation.{name}"] = float(value)
    for candidate, scores in (metadata.get("candidates") or {}).items():
        for name, value in (scores or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"candidate.{candidate}.{name}"] = float(value)
    return out


class MlflowRegistry:
    """The `RegistryRepository` on an MLflow tracking server (or any MLflow store URI) and
    the trainer's PostgreSQL (command ids, audit log, lock)."""

    def __init__(
        self,
        db: Database,
        tracking_uri: str,
        *,
        artifact_location: str | None = None,
        client: "MlflowClient | None" = None,
    ) -> None:
        self.db = db
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self._client = client
        self._experiment_id: str | None = None

    @property
    def client(self) -> "MlflowClient":
        if self._client is None:
            # MLflow prints each run's URL on stdout, which carries our JSON log lines.
            os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
            # Its client retries a failed request 7 times with a doubling back-off (minutes);
            # here 3 (2 + 4 + 8 s of waiting), then the command or training run fails and is
            # retried or dead-lettered like any other.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
            # ...and waits 120 s for an answer by default: a hung server would hold a command
            # past Kafka's poll interval.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
            from mlflow import MlflowClient  # heavy: imported when first needed

            uri = self.tracking_uri
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One MLflow client call in a worker thread; an unreachable server is
        `RegistryUnavailable`, a missing resource stays an MlflowException."""
        from mlflow.exceptions import MlflowException
        from requests.exceptions import RequestException

        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except RequestException as exc:
            raise RegistryUnavailable(f"MLflow at {self.tracking_uri}: {exc}") from exc
        except MlflowException as exc:
            status: int = exc.get_http_status_code()  # type: ignore[no-untyped-call]
            if status >= 500:
                raise RegistryUnavailable(f"MLflow at {self.tracking_uri}: {exc}") from exc
            raise

    async def ping(self) -> bool:
        """Whether MLflow answers: a tracking server's /health within 2 s (the client's own
        retries would keep a readiness probe waiting for minutes), another store by a read."""
        if self.tracking_uri.startswith(("http://", "https://")):
            import httpx

            try:
                async with httpx.AsyncClient(timeout=2) as http:
                    r = await http.get(f"{self.tracking_uri.rstrip('/')}/health")
            except httpx.HTTPError:
                return False
            return r.status_code == 200
        try:
            await self.experiment_id()
        except Exception:
            return False
        return True

    async def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = await self.call(self.client.get_experiment_by_name, EXPERIMENT)
            if found is not None:
                self._experiment_id = str(found.experiment_id)
            else:
                self._experiment_id = str(
                    await self.call(
                        self.client.create_experiment,
                        EXPERIMENT,
                        artifact_location=self.artifact_location,
                        tags={"mlflow.note.content": "StatMusePicks model training runs"},
                    )
                )
        return self._experiment_id

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["MlflowRegistrySession"]:
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
            yield MlflowRegistrySession(conn, self)

    async def by_alias(self, key: str, alias: str) -> "ModelVersion | None":
        from mlflow.exceptions import MlflowException

        try:
            return await self.call(
                self.client.get_model_version_by_alias, registered_name(key), MLFLOW_ALIAS[alias]
            )
        except MlflowException as exc:
            if _not_found(exc):
                return None
            raise  # refused (a 403 from --allowed-hosts, say): never read as "no alias"

    async def find(self, version: str) -> "ModelVersion":
        """The MLflow version of one of our version names (LookupError when there is none)."""
        if not VERSION_NAME.match(version):
            raise LookupError(f"no model version {version!r}")
        found = await self.call(
            self.client.search_model_versions, f"tags.`{TAG}version` = '{version}'"
        )
        if not found:
            raise LookupError(f"no model version {version}")
        return found[0]

    async def trained_on(self, stat: Stat, day: dt.date) -> str | None:
        found = await self.call(
            self.client.search_model_versions,
            f"name = '{registered_name(stat.value)}' and tags.`{TAG}day` = '{day.isoformat()}'",
        )
        full = [
            v
            for v in found
            if v.tags.get(f"{TAG}model_type") == "count_model"
            and v.tags.get(f"{TAG}registered") == "true"
        ]
        if not full:
            return None
        return max(full, key=lambda v: int(v.version)).tags[f"{TAG}version"]

    async def production_training_windows(self) -> list[dict[str, Any]]:
        windows = []
        for stat in Stat:
            champion = await self.by_alias(stat.value, "production")
            raw = champion.tags.get(f"{TAG}training_window") if champion else None
            if raw:
                windows.append(json.loads(raw))
        return windows


def _not_found(exc: Exception) -> bool:
    """MLflow's answer for a registered model or an alias that does not exist (the alias
    case comes as INVALID_PARAMETER_VALUE "... alias ... not found")."""
    code = getattr(exc, "error_code", "")
    text = str(exc).lower()
    return code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "alias" in text and "not found" in text
    )


def _log_files(
    client: "MlflowClient",
    run_id: str,
    metadata: Mapping[str, Any],
    bundle: tuple[str, bytes | None],
    reports: Sequence[Path],
) -> None:
    """A run's artifacts: its metadata, its bundle (when given) and its report files."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=2, default=str))
        client.log_artifact(run_id, str(folder / "metadata.json"))
        name, data = bundle
        if data is not None:
            (folder / name).write_bytes(data)
            client.log_artifact(run_id, str(folder / name), "bundle")
    for report in reports:
        client.log_artifact(run_id, str(report), "report")


def _row(mv: "ModelVersion") -> VersionRow:
    t = mv.tags
    player = t.get(f"{TAG}player_id")
    return VersionRow(
        version=t[f"{TAG}version"],
        name=t[f"{TAG}name"],
        stat=Stat(t[f"{TAG}stat"]),
        player_id=int(player) if player else None,
        model_type=t[f"{TAG}model_type"],
        artifact_uri=t[f"{TAG}artifact_uri"],
        checksum=t[f"{TAG}checksum"],
        feature_set_version=t[f"{TAG}feature_set_version"],
        dataset_version=t.get(f"{TAG}dataset_version") or None,
        metrics=ModelMetrics.model_validate_json(t.get(f"{TAG}metrics") or "{}"),
        moved=int(t[f"{TAG}moved"]) if t.get(f"{TAG}moved") else None,
        tracking=ModelTracking(
            run_id=mv.run_id,
            experiment_id=t.get(f"{TAG}experiment_id"),
            registered_model=mv.name,
            registry_version=int(mv.version),
        )
        if mv.run_id
        else None,
    )


class MlflowRegistrySession:
    """The registry inside one PostgreSQL transaction holding the registry lock. MLflow
    writes cannot roll back with it: each method leaves MLflow consistent on its own, and a
    move's last write is the alias, so a move cut short serves what it served before."""

    def __init__(self, conn: asyncpg.Connection, registry: MlflowRegistry) -> None:
        self.conn = conn
        self.registry = registry

    async def record_command(self, command_id: str) -> bool:
        done = await self.conn.fetchval(
            "INSERT INTO registry.processed_commands (event_id) VALUES ($1) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            command_id,
        )
        return done is not None

    async def alias_version(self, key: str, alias: str) -> str | None:
        if alias not in MLFLOW_ALIAS:
            raise ValueError(f"only {sorted(MLFLOW_ALIAS)} point at one version, not {alias!r}")
        mv = await self.registry.by_alias(key, alias)
        return None if mv is None else mv.tags.get(f"{TAG}version")

    async def previous_production(self, key: str, current: str) -> str | None:
        mv = await self.registry.find(current)
        if mv.name != registered_name(key):
            raise LookupError(f"{current} is a version of {mv.name}, not of {key}")
        previous = mv.tags.get(f"{TAG}previous_champion")
        return previous if previous and previous != current else None

    async def set_alias(
        self,
        key: str,
        alias: str,
        version: str,
        *,
        requested_by: str | None = None,
        detail: str | None = None,
    ) -> None:
        reg = self.registry
        mv = await reg.find(version)
        name = registered_name(key)
        if mv.name != name:
            raise LookupError(f"{version} is a version of {mv.name}, not of {name}")
        moved = await self.conn.fetchval(
            "INSERT INTO registry.alias_history (serving_key, alias, version, requested_by, "
            "detail) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            key,
            alias,
            version,
            requested_by,
            detail,
        )
        set_tag = reg.client.set_model_version_tag
        await reg.call(set_tag, name, mv.version, f"{TAG}moved", str(moved))
        if alias == "archived":
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            await reg.call(set_tag, name, mv.version, f"{TAG}archived_at", stamp)
            return
        if alias == "production":
            current = await reg.by_alias(key, "production")
            if current is not None and current.version != mv.version:
                previous = current.tags[f"{TAG}version"]
                await reg.call(set_tag, name, mv.version, f"{TAG}previous_champion", previous)
        if mv.tags.get(f"{TAG}archived_at"):  # back in service (promoted, or pinned)
            await reg.call(
                reg.client.delete_model_version_tag, name, mv.version, f"{TAG}archived_at"
            )
        # The alias last: a move cut short before it leaves MLflow serving what it served.
        await reg.call(reg.client.set_registered_model_alias, name, MLFLOW_ALIAS[alias], mv.version)

    async def last_archived(self, key: str) -> str | None:
        value: str | None = await self.conn.fetchval(
            "SELECT version FROM registry.alias_history WHERE serving_key = $1 "
            "AND alias = 'archived' ORDER BY id DESC LIMIT 1",
            key,
        )
        return value

    async def drop_staging(self, key: str, version: str) -> None:
        staged = await self.registry.by_alias(key, "staging")
        if staged is not None and staged.tags.get(f"{TAG}version") == version:
            await self.registry.call(
                self.registry.client.delete_registered_model_alias,
                registered_name(key),
                MLFLOW_ALIAS["staging"],
            )

    async def version(self, version: str) -> VersionRow:
        return _row(await self.registry.find(version))

    async def next_version(self, base: str) -> str:
        if not VERSION_NAME.match(base):
            raise ValueError(f"not a version name: {base!r}")
        taken = await self.registry.call(
            self.registry.client.search_model_versions, f"tags.`{TAG}base` = '{base}'"
        )
        return base if not taken else f"{base}-r{len(taken) + 1}"

    async def register(
        self,
        published: ModelPublished,
        metadata: Mapping[str, Any] | None = None,
        *,
        bundle: bytes | None = None,
        reports: Sequence[Path] = (),
        base: str | None = None,
        requested_by: str | None = None,
    ) -> ModelTracking:
        """An MLflow run with the version's parameters, metrics, reports and bundle, then the
        model version made from it (tagged with everything `ModelPublished` carries), then
        its alias. Returns where it is tracked."""
        reg = self.registry
        client = reg.client
        metadata = dict(metadata or {})
        key = published.key
        name = registered_name(key)
        experiment = await reg.experiment_id()
        run = await reg.call(
            client.create_run,
            experiment,
            run_name=published.version,
            tags={
                f"{TAG}stat": published.stat.value,
                f"{TAG}key": key,
                f"{TAG}version": published.version,
                f"{TAG}model_type": published.model_type,
                f"{TAG}feature_set_version": published.feature_set_version,
                f"{TAG}dataset_version": published.dataset_version or "",
            },
        )
        run_id = run.info.run_id
        try:
            from mlflow.entities import Metric, Param

            now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
            # The event's metrics too: a version registered without metadata (a baseline
            # trained on request) still shows its validation figures.
            scored = {
                **metadata,
                "metrics": {
                    **published.metrics.model_dump(exclude_none=True),
                    **(metadata.get("metrics") or {}),
                },
            }
            params = [Param(k, v) for k, v in run_params(scored).items()]
            metrics = [Metric(k, v, now, 0) for k, v in run_metrics(scored).items()]
            for start in range(0, max(len(params), len(metrics)), 100):  # MLflow's batch limit
                await reg.call(
                    client.log_batch,
                    run_id,
                    metrics=metrics[start : start + 100],
                    params=params[start : start + 100],
                )
            bundle_name = f"{published.name}{Path(published.artifact_uri).suffix or '.bin'}"
            # Files written and uploaded in one worker thread (the bundle is megabytes).
            await reg.call(
                _log_files, client, run_id, metadata, (bundle_name, bundle), tuple(reports)
            )
            await reg.call(client.set_terminated, run_id, "FINISHED")
        except BaseException:
            await reg.call(client.set_terminated, run_id, "FAILED")
            raise
        await self._ensure_model(name, key, published.stat)
        window = metadata.get("training_window")
        day = TRAINED_ON.match(published.version)
        tags = {
            f"{TAG}version": published.version,
            f"{TAG}base": base or published.version,
            **({f"{TAG}day": day.group(1)} if day else {}),
            f"{TAG}name": published.name,
            f"{TAG}stat": published.stat.value,
            f"{TAG}player_id": "" if published.player_id is None else str(published.player_id),
            f"{TAG}model_type": published.model_type,
            f"{TAG}artifact_uri": published.artifact_uri,
            f"{TAG}checksum": published.checksum,
            f"{TAG}feature_set_version": published.feature_set_version,
            f"{TAG}dataset_version": published.dataset_version or "",
            f"{TAG}metrics": published.metrics.model_dump_json(exclude_none=True),
            f"{TAG}experiment_id": experiment,
            **({f"{TAG}training_window": json.dumps(window)} if window else {}),
        }
        mv = await reg.call(
            client.create_model_version,
            name,
            f"runs:/{run_id}/bundle" if bundle is not None else f"runs:/{run_id}",
            run_id,
            tags=tags,
            description=f"{published.version} ({published.model_type}, {published.name})",
        )
        await self.set_alias(key, published.alias, published.version, requested_by=requested_by)
        # Last: a version whose registration was cut short has no `registered` tag, so a retry
        # of its training does not take it for "trained today" (trained_on).
        await reg.call(client.set_model_version_tag, name, mv.version, f"{TAG}registered", "true")
        return ModelTracking(
            run_id=run_id,
            experiment_id=experiment,
            registered_model=name,
            registry_version=int(mv.version),
        )

    async def _ensure_model(self, name: str, key: str, stat: Stat) -> None:
        from mlflow.exceptions import MlflowException

        reg = self.registry
        try:
            await reg.call(reg.client.get_registered_model, name)
        except MlflowException as exc:
            if not _not_found(exc):
                raise
            await reg.call(
                reg.client.create_registered_model,
                name,
                tags={f"{TAG}key": key, f"{TAG}stat": stat.value},
                description=f"StatMusePicks: the served models of {key}",
            )
