"""GET /api/models: the models the gateway has heard of, with their alias now and, where
MLFLOW_UI_URL is set, links to their MLflow run and model version."""

import json
from urllib.parse import quote

from fastapi import APIRouter

from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.schemas import ModelInfo
from statmuse_shared.contract.messages import ModelPublished, ModelTracking

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
