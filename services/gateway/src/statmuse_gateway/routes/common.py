"""What the /api routes share: the batch size check, JSON bytes as a response, an item that
failed as the single endpoint's reply."""

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response

from statmuse_gateway.service import ItemFailed
from statmuse_gateway.settings import GatewaySettings


def check_batch_size(settings: GatewaySettings, n: int) -> None:
    if n > settings.batch_max_items:
        raise HTTPException(422, f"at most {settings.batch_max_items} items per batch")


def json_bytes(raw: bytes) -> Response:
    return Response(raw, media_type="application/json")


def failure(failed: ItemFailed) -> JSONResponse:
    return JSONResponse(
        status_code=failed.http_status, content=failed.content, headers=failed.headers
    )
