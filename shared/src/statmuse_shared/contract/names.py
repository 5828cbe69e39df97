"""Player-name matching, shared by everything that meets a name typed or spelled elsewhere
(the gateway's search, the books' prop lines): accents, punctuation, suffixes and known
nicknames do not matter."""

import re
import unicodedata

_SUFFIX = re.compile(r"\b(jr|sr|ii|iii|iv|v)\b", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")

# Names the books (and people) use for players whose NBA name differs, seen in the data.
NICKNAMES = {
    "herb jones": "herbert jones",
    "nicolas claxton": "nic claxton",
    "moe wagner": "moritz wagner",
    "mohamed bamba": "mo bamba",
    "vincent williams": "vince williams",
    "cameron thomas": "cam thomas",
}


def normalize_name(name: str) -> str:
    """'Luka Dončić' -> 'luka doncic'; 'Jaren Jackson Jr.' -> 'jaren jackson';
    'Herb Jones' -> 'herbert jones'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    cleaned = _NON_ALNUM.sub("", ascii_name.replace("-", " ").replace(".", ""))
    key = " ".join(_SUFFIX.sub("", cleaned).split())
    return NICKNAMES.get(key, key)
