"""uv.lock: what `uv sync --frozen --no-dev` installs for each image."""

import tomllib
from functools import cache
from typing import Any

from deploylib.common import ROOT


@cache
def _lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def lock_closure(*packages: str) -> set[str]:
    """Every package `uv sync --no-dev --package <package>` installs, from uv.lock."""
    by_name = {p["name"]: p for p in _lock()["package"]}
    seen: set[str] = set()
    todo = list(packages)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = by_name[name]
        for dep in entry.get("dependencies", []):
            todo.append(dep["name"])
            for extra in dep.get("extra", []):
                todo.extend(d["name"] for d in entry_extra(by_name[dep["name"]], extra))
    return seen


def entry_extra(entry: dict[str, Any], extra: str) -> list[dict[str, Any]]:
    return list(entry.get("optional-dependencies", {}).get(extra, []))


def workspace_members() -> list[str]:
    return sorted(p["name"] for p in _lock()["package"] if p.get("source", {}).get("editable"))


def locked_version(package: str) -> str:
    """The version uv.lock pins `package` at."""
    return str(next(p["version"] for p in _lock()["package"] if p["name"] == package))


def locked_packages() -> set[str]:
    return {p["name"] for p in _lock()["package"]}
