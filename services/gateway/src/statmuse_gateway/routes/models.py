"""GET /api/models: the models the gateway has heard of, with their alias now."""

import json

from fastapi import APIRouter

from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.schemas import ModelInfo
from statmuse_shared.contract.messages import ModelPublished

router = APIRouter(prefix="/api", tags=["predictions"])


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
            )
        )
    return out
