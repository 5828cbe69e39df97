"""Validation errors as answers that can always be sent, and never echo much back.

FastAPI's own 422 handler puts each error's input in the body as it came: a non-finite number
(`1e309`, `NaN`, `Infinity`, which Python's JSON parser reads) cannot be encoded as JSON, so
the answer became a 500; and a 10 kB player name came back whole. Here every echoed value is
made safe: non-finite numbers become their names ("inf", "nan"), strings are cut to
`MAX_ECHO` characters (saying how long they were), containers to `MAX_ITEMS` entries and two
levels. The same summary is a batch item's error.
"""

import math
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MAX_ECHO = 80  # characters of a string echoed back (a valid player name fits)
MAX_TEXT = 300  # characters of a message of ours (a list of the team codes fits)
MAX_ITEMS = 10  # entries of a list or object echoed back
MAX_DEPTH = 2


def safe(value: Any, depth: int = 0, *, limit: int = MAX_ECHO) -> Any:
    """`value`, small and JSON-encodable (strings cut to `limit` characters)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # A 4,000-digit number is echoed as its first digits, like a long string.
        return value if abs(value) < 10**15 else safe(str(value), depth, limit=20)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}… ({len(value):,} characters)"
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        out = {safe(str(k)): safe(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
        if len(value) > MAX_ITEMS:
            out["…"] = f"{len(value) - MAX_ITEMS} more"
        return out
    if isinstance(value, list | tuple):
        items = [safe(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
        return items + ([f"… {len(value) - MAX_ITEMS} more"] if len(value) > MAX_ITEMS else [])
    return safe(str(value), depth)


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI error dicts with their location, message, input and context made
    safe (no URL to pydantic's docs: the message says what is wrong)."""
    out = []
    for error in list(errors)[:MAX_ITEMS]:
        item: dict[str, Any] = {
            "type": str(error.get("type", "value_error")),
            "loc": [safe(part) for part in error.get("loc", ())],
            "msg": safe(str(error.get("msg", "invalid value")), limit=MAX_TEXT),
        }
        if "input" in error:
            item["input"] = safe(error["input"])
        if ctx := error.get("ctx"):
            item["ctx"] = {
                str(k): safe(v if isinstance(v, int | float) else str(v), limit=MAX_TEXT)
                for k, v in ctx.items()
            }
        out.append(item)
    return out


def summary(errors: Sequence[Any]) -> str:
    """One line for a batch item: "line: Input should be a finite number; ..."."""
    parts = []
    for e in safe_errors(errors):
        where = ".".join(str(p) for p in e["loc"] if p != "body") or "item"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


async def validation_failed(_: Request, exc: Exception) -> JSONResponse:
    """The 422 for a request that does not validate, whatever it contained."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": safe_errors(exc.errors())})
