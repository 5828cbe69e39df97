"""Pure gateway logic: player-name matching."""

import difflib
import re
import unicodedata

_SUFFIX = re.compile(r"\b(jr|sr|ii|iii|iv|v)\b\.?", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")


def normalize_name(name: str) -> str:
    """'Luka Dončić' -> 'luka doncic'; 'Jaren Jackson Jr.' -> 'jaren jackson'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    lowered = _NON_ALNUM.sub("", ascii_name.lower().replace("-", " ").replace(".", ""))
    return " ".join(_SUFFIX.sub("", lowered).split())


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
