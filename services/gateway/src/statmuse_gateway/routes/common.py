"""What the /api routes share: the batch size check, JSON bytes as a response, an item that
failed as the single endpoint's reply, a batch item that is not valid."""

from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from statmuse_gateway.security.errors import summary
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


def invalid_item(exc: ValidationError) -> ItemFailed:
    """A batch item that is not a valid request: status "invalid", its errors in one line."""
    return ItemFailed("invalid", 422, {"detail": summary(exc.errors())})
