"""GET /api/models: the models the gateway has heard of, with their alias now and, where
MLFLOW_UI_URL is set, links to their MLflow run and model version. GET /api/models/ab and
/api/models/{stat}/ab: where the A/B tests stand, as the trainer last reported them."""

import json
from urllib.parse import quote

from fastapi import APIRouter, HTTPException

from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.schemas import ModelInfo
from statmuse_shared.contract.messages import AbTestReported, ModelPublished, ModelTracking
from statmuse_shared.contract.stats import Stat

router = APIRouter(prefix="/api", tags=["predictions"])


def mlflow_links(ui: str | None, tracking: ModelTracking | None) -> dict[str, str | None]:
    """The MLflow UI's pages of a version's run and of the version itself."""
    if not ui or tracking is None:
        return {"run_url": None, "registry_url": None}
    ui = ui.rstrip("/")
    run = (
        f"{ui}/#/experiments/{quote(tracking.experiment_id)}/runs/{quote(tracking.run_id)}"
        if tracking.run_id and tracking.experiment_id
        else None
    )
    model = quote(tracking.registered_model)
    return {
        "run_url": run,
        "registry_url": f"{ui}/#/models/{model}/versions/{tracking.registry_version}",
    }


@router.get("/models", response_model=list[ModelInfo], tags=["models"])
async def list_models(rt: Gateway) -> list[ModelInfo]:
    out = []
    for stored in await rt.read_model.models():
        event = ModelPublished.model_validate(json.loads(stored.payload))
        out.append(
            ModelInfo(
                name=event.name,
                version=event.version,
                stat=event.stat,
                player_id=event.player_id,
                alias=stored.alias,
                model_type=event.model_type,
                metrics=event.metrics.model_dump(),
                feature_set_version=event.feature_set_version,
                updated_at=stored.updated_at,
                **mlflow_links(rt.settings.mlflow_ui_url, event.tracking),
            )
        )
    return out


@router.get("/models/ab", response_model=list[AbTestReported], tags=["models"])
async def list_ab_tests(rt: Gateway) -> list[AbTestReported]:
    """Every stat's A/B test (the newest per stat): each arm on the same settled props, the
    challenger-minus-production Brier difference with its always-valid confidence sequence
    day by day, and the verdict."""
    return [AbTestReported.model_validate_json(p) for p in await rt.read_model.ab_tests()]


@router.get(
    "/models/{stat}/ab",
    response_model=AbTestReported,
    responses={404: {"description": "No A/B test of this stat has been reported"}},
    tags=["models"],
)
async def ab_test(stat: Stat, rt: Gateway) -> AbTestReported:
    """The stat's A/B test: "keep running", "challenger better", "challenger worse" or "no
    difference" (and the day it was reached), each arm's Brier, log loss and hit rate on the
    same props, and the difference with its interval."""
    for payload in await rt.read_model.ab_tests():
        report = AbTestReported.model_validate_json(payload)
        if report.stat is stat:
            return report
    raise HTTPException(
        404,
        f"no A/B test of {stat.value} has been reported: one runs while a version is pinned "
        "(POST /api/models/{key}/load, canary or shadow) or a challenger is staged with the "
        "predictor's PREDICTOR_AB_SHARE above 0, and reports after its first settled day",
    )
