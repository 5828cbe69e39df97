"""The AsyncAPI document of every topic, for downstream consumers of the prediction topic.

FastStream generates it from the services' own subscribers and publishers
(`statmuse_shared.contract.asyncapi`); the gateway's image holds no other service, so it serves
the committed copy. Its viewer page is `routes.docs`' (served from packaged files)."""

from functools import cache
from typing import Any

from fastapi import APIRouter

from statmuse_shared.contract.asyncapi import stored

router = APIRouter(prefix="/docs", tags=["docs"])


@cache
def _document() -> dict[str, Any]:
    return stored()


@router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of every Kafka topic")
async def asyncapi_json() -> dict[str, Any]:
    return _document()
