"""Sportsbooks and their prices, as every source of prop lines spells them: one key per book,
and American odds read from text."""

import math

# Sources spell the books differently ("BetMGM" / "betmgm"; Caesars is William Hill US); the
# keys are The Odds API's.
BOOKS = {
    "betmgm": "betmgm",
    "caesars": "williamhill_us",
    "williamhill_us": "williamhill_us",
    "betonline.ag": "betonlineag",
    "betonlineag": "betonlineag",
    "draftkings": "draftkings",
    "pointsbet (us)": "pointsbetus",
    "pointsbetus": "pointsbetus",
    "bovada": "bovada",
    "fanduel": "fanduel",
    "unibet": "unibet_us",
    "unibet_us": "unibet_us",
    "betrivers": "betrivers",
    "mybookieag": "mybookieag",
    "barstool sportsbook": "barstool",
}


def canonical_book(name: str) -> str:
    """A book's key ('BetMGM' -> 'betmgm'); an unknown book keeps its name, lower-cased."""
    key = name.strip().lower()
    return BOOKS.get(key, key)


def american_odds(text: str) -> int | None:
    """'-115' or '105.0' -> the price; None for anything that is not one (not a number, not
    finite, or between -100 and +100, which American odds never are)."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or -100 < value < 100:
        return None
    return int(value)
