"""docs/FEATURES.md from the catalogue: the explanations written by hand stay in the template
beside this module (FEATURES.template.md); the tables, the counts, the version and the full name
list are generated here and fill its `{{placeholders}}`. `main` rewrites or checks the
committed file (`python -m statmuse_shared.features.catalogue [--check]`, `make features-doc`)."""

import importlib.resources
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from statmuse_shared.features.catalogue import (
    CATALOGUE,
    DTYPES,
    FEATURE_SET_VERSION,
    FINGERPRINT,
    GENERAL,
    PER_STAT,
    STALE_FINGERPRINT,
    Family,
    Window,
    fingerprint,
)
from statmuse_shared.features.player import COMPACT_STATS
from statmuse_shared.features.player import STATS as FULL_STATS

STATS = (*FULL_STATS, *COMPACT_STATS)

TEMPLATE = "FEATURES.template.md"
DOC = Path(__file__).resolve().parents[5] / "docs" / "FEATURES.md"


def _code(names: Iterable[str]) -> list[str]:
    return [f"`{n}`" for n in names]


def _and(items: list[str], last: str = "and") -> str:
    if len(items) < 2:
        return "".join(items) or "none"
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _window(windows: tuple[Window, ...]) -> str:
    return ", ".join("—" if w is None else str(w) for w in windows)


def _table(first: str, families: tuple[Family, ...]) -> str:
    rows = [
        f"| {first} | Type | Window | Definition | None on `next` |",
        "|---|---|---|---|---|",
    ]
    for family in families:
        definition = family.description.replace("{w}", "w")
        left_out = [s for s in STATS if family.stats and s not in family.stats]
        if left_out:
            definition += f" **Not for {_and(_code(left_out), 'or')}.**"
        rows.append(
            f"| `{family.template}` | {family.dtype} | {_window(family.windows)} | "
            f"{definition} | {'yes' if not family.on_next else 'no'} |"
        )
    return "\n".join(rows)


def _per_stat_count() -> str:
    """How the per-stat templates add up to the total, e.g. 5 × 34 + 33 = 203, plus 15."""
    per_stat = Counter(f.stat for f in CATALOGUE if f.stat is not None)
    general = sum(1 for f in CATALOGUE if f.stat is None)
    parts, terms = [], []
    for n in sorted(set(per_stat.values()), reverse=True):
        stats = [s for s in STATS if per_stat[s] == n]
        missing = [f.template for f in PER_STAT if any(s not in f.stats for s in stats)]
        windowed = [f for f in PER_STAT if "{w}" in f.template and set(stats) <= set(f.stats)]
        split = (
            f"{sum(len(f.windows) for f in windowed)} from the {len(windowed)} templates over "
            f"windows, {n - sum(len(f.windows) for f in windowed)} from the others"
        )
        short = [t.replace("{stat}_", "") for t in missing]
        without = f", no {_and(_code(short))}" if missing else ""
        parts.append(f"{n} features ({split}{without}) for {_and(_code(stats))}")
        terms.append(f"{len(stats)} × {n}" if len(stats) > 1 else str(n))
    return textwrap.fill(
        f"Count: {'; '.join(parts)}: {' + '.join(terms)} = **{sum(per_stat.values())}**, "
        f"plus {general} general features = **{len(CATALOGUE)}**.",
        width=96,
    )


def _names() -> str:
    groups: list[tuple[str, list[str]]] = [
        (stat, [f.name for f in CATALOGUE if f.stat == stat]) for stat in STATS
    ]
    groups.append(("general", [f.name for f in CATALOGUE if f.stat is None]))
    return "\n\n".join(
        f"**{group}** ({len(names)}): {', '.join(_code(names))}" for group, names in groups
    )


def render() -> str:
    """The whole document."""
    template = (
        importlib.resources.files(__package__ or "statmuse_shared.features.catalogue")
        .joinpath(TEMPLATE)
        .read_text(encoding="utf-8")
    )
    fills = {
        "version": FEATURE_SET_VERSION,
        "fingerprint": FINGERPRINT,
        "count": str(len(CATALOGUE)),
        "dtypes": "; ".join(f"`{dtype}` {meaning}" for dtype, meaning in DTYPES.items()),
        "general_none_on_next": str(sum(1 for f in GENERAL if not f.on_next)),
        "per_stat_none_on_next": _and(_code(f.template for f in PER_STAT if not f.on_next)),
        "per_stat_table": _table("Template", PER_STAT),
        "per_stat_count": _per_stat_count(),
        "general_table": _table("Name", GENERAL),
        "names": _names(),
    }
    for key, value in fills.items():
        placeholder = "{{" + key + "}}"
        if placeholder not in template:
            raise ValueError(f"{TEMPLATE} has no {placeholder}")
        template = template.replace(placeholder, value)
    if "{{" in template:
        raise ValueError(f"{TEMPLATE} has a placeholder nothing fills")
    return template


def main(argv: Sequence[str] | None = None, *, path: Path = DOC) -> None:
    """Rewrite docs/FEATURES.md from the catalogue, or (--check) exit 1 when it is stale. Both
    refuse while the catalogue's recorded fingerprint is stale."""
    args = sys.argv[1:] if argv is None else list(argv)
    if fingerprint() != FINGERPRINT:
        print(f"{STALE_FINGERPRINT} (now {fingerprint()})", file=sys.stderr)  # noqa: T201
        raise SystemExit(1)
    text = render()
    if "--check" in args:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run `make features-doc`", file=sys.stderr)  # noqa: T201
            raise SystemExit(1)
        return
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")  # noqa: T201
