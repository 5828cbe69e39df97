"""Pure gateway logic: player-name suggestions."""

import difflib

from statmuse_shared.contract.names import normalize_name


def suggest(query: str, names: list[str], *, n: int = 5) -> list[str]:
    """Closest known names to a query (for the 404's suggestions)."""
    by_norm: dict[str, str] = {}
    for name in names:
        by_norm.setdefault(normalize_name(name), name)
    wanted = normalize_name(query)
    close = difflib.get_close_matches(wanted, list(by_norm), n=n, cutoff=0.6)
    # Also offer players sharing a whole word (surname searches like "james").
    words = set(wanted.split())
    partial = [k for k in by_norm if words & set(k.split())] if words else []
    ordered = list(dict.fromkeys([*close, *sorted(partial)]))[:n]
    return [by_norm[k] for k in ordered]
