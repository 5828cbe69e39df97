"""/docs: Swagger UI over the OpenAPI document, from the gateway's own files.

FastAPI's default page loads Swagger UI from a CDN (a floating version, no integrity check)
and starts it with an inline script: blank offline, and not allowed by the gateway's
Content-Security-Policy. Here Swagger UI 5's files come from the `fastapi-offline` package's
static folder (only its files are used), pinned with the rest of the dependencies, and the page
starts Swagger UI from static/docs.js."""

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

OWN = Path(__file__).resolve().parent.parent / "static"
SWAGGER = Path(fastapi_offline.__file__).resolve().parent / "static"
FILES = {
    "swagger-ui.css": (SWAGGER, "text/css"),
    "swagger-ui-bundle.js": (SWAGGER, "text/javascript"),
    "favicon.png": (SWAGGER, "image/png"),
    "docs.js": (OWN, "text/javascript"),
    "asyncapi.js": (OWN, "text/javascript"),
    # The AsyncAPI viewer, vendored from npm (static/vendor/asyncapi-react-component/README.md).
    "asyncapi-standalone.js": (OWN / "vendor/asyncapi-react-component", "text/javascript"),
    "asyncapi.css": (OWN / "vendor/asyncapi-react-component", "text/css"),
}
_RENAMED = {"asyncapi-standalone.js": "standalone.js", "asyncapi.css": "default.min.css"}
# The files change only with the package: a day of caching spares a reload 1.4 MB.
CACHE = {"cache-control": "public, max-age=86400"}


@cache
def _page() -> str:
    return """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StatMusePicks API · docs</title>
<link rel="icon" type="image/png" href="/docs/static/favicon.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<script src="/docs/static/swagger-ui-bundle.js" defer></script>
<script src="/docs/static/docs.js" defer></script>
</head>
<body>
<p><a href="/dashboard">Dashboard</a> · <a href="/docs/asyncapi">Kafka topics (AsyncAPI)</a>
· <a href="/openapi.json">openapi.json</a></p>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
</body>
</html>
"""


@router.get("/docs")
async def swagger_page() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get("/docs/static/{name}")
async def docs_file(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404)
    folder, media_type = FILES[name]
    return FileResponse(folder / _RENAMED.get(name, name), media_type=media_type, headers=CACHE)


@router.get("/docs/asyncapi")
async def asyncapi_page() -> HTMLResponse:
    """The AsyncAPI viewer over /docs/asyncapi.json (static/asyncapi.js starts it)."""
    return HTMLResponse(_ASYNCAPI)


_ASYNCAPI = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StatMusePicks · Kafka topics (AsyncAPI)</title>
<link rel="stylesheet" href="/docs/static/asyncapi.css">
<script src="/docs/static/asyncapi-standalone.js" defer></script>
<script src="/docs/static/asyncapi.js" defer></script>
</head>
<body>
<p><a href="/dashboard">Dashboard</a> · <a href="/docs">REST API docs</a> · Raw document:
<a href="/docs/asyncapi.json">/docs/asyncapi.json</a></p>
<div id="asyncapi" data-document-url="/docs/asyncapi.json"></div>
</body>
</html>
"""
