"""The body of POST /api/batch_predict, spliced together from the predictions' stored JSON.

Each prediction is already the bytes of its PredictResponse (as cached and as the single
endpoint sends it); parsing and re-serialising 50 of them cost more than the rest of the
batch. The result is the same document `BatchPredictResponse` gives, field order included (a
unit test holds them equal)."""

import json
from collections.abc import Sequence
from typing import Any

from statmuse_gateway.predicting import Answer
from statmuse_gateway.schemas import DISCLAIMER, HELP_LINKS
from statmuse_gateway.service import ItemFailed


def batch_json(answers: Sequence[Answer], *, late: str) -> bytes:
    """The BatchPredictResponse of these answers as JSON; `late` is the error of an item
    not done (None)."""
    items: list[str] = []
    ok = 0
    for i, answer in enumerate(answers):
        head: dict[str, Any] = {"index": i}
        if isinstance(answer, bytes):
            ok += 1
            head["status"] = "ok"
            items.append(_dumps(head)[:-1] + ',"prediction":' + answer.decode() + "}")
            continue
        if isinstance(answer, ItemFailed):
            head.update(status=answer.status, error=str(answer))
            if suggestions := answer.content.get("suggestions"):
                head["suggestions"] = suggestions
        elif answer is None:
            head.update(status="timeout", error=late)
        else:
            head.update(status="error", error=f"could not answer: {type(answer).__name__}")
        items.append(_dumps(head))
    envelope = _dumps(
        {"ok": ok, "failed": len(answers) - ok, "disclaimer": DISCLAIMER, "help_links": HELP_LINKS}
    )
    return (envelope[:-1] + ',"results":[' + ",".join(items) + "]}").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
