"""Training on request (`TrainRequested`): labelled examples -> fitted model -> artifact ->
registry -> event. `model_kind="pooled"` retrains the stat's full model (`statmuse train` for
one stat); so does `per_player`: a player's head is refitted with the stat's model (the heads
are fitted on the pooled model's residuals), so a request for one player is answered by the
stat's retrain of the day; `baseline` fits the naive rolling-mean model."""

import asyncio
import datetime as dt
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from statmuse_shared.contract.messages import ModelMetrics, ModelPublished, TrainRequested
from statmuse_trainer.ports import ExampleRepository
from statmuse_trainer.registry.publish import bundle_of, publish_bundles, register_and_publish
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training import reports
from statmuse_trainer.training.baseline import fit_rolling_mean

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# Model kinds answered by retraining the stat's full model.
POOLED_KINDS = frozenset({"pooled", "per_player"})

# Where a pooled retrain gets its dataset: (examples, settings) -> (version, frame).
Load = Callable[[ExampleRepository, TrainerSettings], Awaitable[tuple[str, "pd.DataFrame"]]]


class TrainingRefused(ValueError):
    pass


class AlreadyTrained(Exception):  # noqa: N818 - an outcome, not a failure
    """A pooled retrain of this stat already ran today: the request is answered by it."""

    def __init__(self, version: str) -> None:
        super().__init__(f"already retrained today as {version}")
        self.version = version


async def train(
    rt: TrainerRuntime,
    request: TrainRequested,
    *,
    today: dt.date | None = None,
    load: Load | None = None,
) -> ModelPublished:
    if request.model_kind in POOLED_KINDS:
        return await train_pooled(rt, request, today=today, load=load)
    if request.model_kind != "baseline":
        raise TrainingRefused(
            f"model kind {request.model_kind!r} is not trained on request "
            "(baseline, pooled or per_player)"
        )
    if request.player_id is not None:
        raise TrainingRefused(
            "a baseline is fitted for the stat, not for one player: ask for per_player"
        )
    fsv = await rt.examples.latest_feature_set()
    if fsv is None:
        raise TrainingRefused("no training examples yet")
    examples = await rt.examples.labelled(
        stat=request.stat, feature_set_version=fsv, seasons=rt.settings.train_seasons
    )
    fitted = await asyncio.to_thread(
        fit_rolling_mean,
        request.stat,
        examples,
        min_games=rt.settings.min_games,
        feature_set_version=fsv,
    )
    data = fitted.artifact.model_dump_json(indent=2).encode()
    return await register_and_publish(
        rt,
        stat=request.stat,
        name=f"{request.stat.value}-baseline",
        model_type=fitted.artifact.model_type,
        data=data,
        suffix="json",
        feature_set_version=fsv,
        dataset_version=None,
        metrics=ModelMetrics(
            mae=fitted.metrics["mae"],
            rmse=fitted.metrics["rmse"],
            n_train=int(fitted.metrics["n_train"]),
        ),
        promote=request.promote,
        today=today,
    )


async def pooled_frame(
    examples: ExampleRepository, settings: TrainerSettings
) -> tuple[str, "pd.DataFrame"]:
    """The training dataset from the stored game vectors, split and leakage-checked exactly as
    `statmuse-trainer dataset` builds it; returns its content hash and the frame."""
    from statmuse_shared.features import FEATURE_SET_VERSION
    from statmuse_trainer.training.dataset import Split, check, content_hash, frame

    split = Split(
        settings.pooled_train_seasons,
        settings.pooled_validation_seasons,
        settings.pooled_test_seasons,
    )
    seasons = [*split.train, *split.validation, *split.test]
    rows = await examples.dataset_rows(feature_set_version=FEATURE_SET_VERSION, seasons=seasons)

    def prepare() -> tuple[str, "pd.DataFrame"]:  # ~190k rows of pandas: off the event loop
        df = frame(rows, split)
        check(df, split)
        return content_hash(df), df

    return await asyncio.to_thread(prepare)


async def train_pooled(
    rt: TrainerRuntime,
    request: TrainRequested,
    *,
    today: dt.date | None = None,
    load: Load | None = None,
) -> ModelPublished:
    """The full model of one stat (candidates, search, ensembles, per-player heads,
    calibration: `statmuse train` for one stat), registered and announced. A request for one
    player is answered by retraining the stat, which refits every player's head; once a stat
    was retrained on a day, further requests that day are answered by that version."""
    from statmuse_trainer.training.fitting import fit_stat

    done = await rt.registry.trained_on(request.stat, today or dt.date.today())
    if done is not None:
        raise AlreadyTrained(done)
    version, df = await (load or pooled_frame)(rt.examples, rt.settings)
    try:
        fitted = await asyncio.to_thread(
            fit_stat, df, request.stat.value, jobs=rt.settings.pooled_jobs
        )
    except ValueError as exc:  # too few rows for this stat
        raise TrainingRefused(str(exc)) from exc
    # The run's report (metrics, reliability picture, importance) goes to MLflow with it.
    with tempfile.TemporaryDirectory(prefix="statmuse-report-") as folder:
        files = await asyncio.to_thread(
            reports.write, Path(folder), [fitted], dataset_version=version
        )
        [published] = await publish_bundles(
            rt, [bundle_of(fitted, version, files)], promote=request.promote, today=today
        )
    return published
