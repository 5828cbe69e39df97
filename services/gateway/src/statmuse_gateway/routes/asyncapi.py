"""The AsyncAPI document of every topic, for downstream consumers of the prediction topic.

FastStream generates it from the services' own subscribers and publishers
(`statmuse_shared.contract.asyncapi`); the gateway's image holds no other service, so it serves
the committed copy."""

from functools import cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from faststream.specification.asyncapi.site import get_asyncapi_html

from statmuse_shared.contract.asyncapi import StoredSpecification, stored

router = APIRouter(prefix="/docs", tags=["docs"])


@cache
def _document() -> dict[str, Any]:
    return stored()


@router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of every Kafka topic")
async def asyncapi_json() -> dict[str, Any]:
    return _document()


@router.get("/asyncapi", response_class=HTMLResponse, include_in_schema=False)
async def asyncapi_html() -> HTMLResponse:
    # The viewer loads the AsyncAPI web component from its CDN; the JSON needs nothing.
    spec: Any = StoredSpecification(_document())  # what the viewer reads: title, to_json()
    page = get_asyncapi_html(spec, try_it_out_path=None)
    note = (
        '<p style="font-family:sans-serif">Raw document: '
        '<a href="/docs/asyncapi.json">/docs/asyncapi.json</a></p>'
    )
    return HTMLResponse(page.replace("<body>", f"<body>{note}", 1))
