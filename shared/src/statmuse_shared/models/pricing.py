"""What a bet is worth: decimal odds, expected value, Kelly stake and the recommendation rule.

Recommendation rule (documented for users): take the side with the larger expected value per
unit staked at the offered odds; recommend it only when that EV is at least `min_edge`
(default 2%), otherwise PASS. A push returns the stake, so it counts as zero.
"""

from dataclasses import dataclass
from typing import Literal

from statmuse_shared.models.distributions import LineOdds

DEFAULT_AMERICAN_ODDS = -110
MIN_EDGE = 0.02
KELLY_MULTIPLIER = 0.25
KELLY_CAP = 0.02

Recommendation = Literal["OVER", "UNDER", "PASS"]


def decimal_odds(american: int) -> float:
    if american == 0 or -100 < american < 100:
        raise ValueError(f"American odds must be <= -100 or >= +100, got {american}")
    return 1 + (100 / -american if american < 0 else american / 100)


def implied_probability(american: int) -> float:
    return 1 / decimal_odds(american)


def devig(over_american: int, under_american: int) -> float:
    """The books' fair P(over): the raw implied probabilities normalised to sum to 1."""
    p_over = implied_probability(over_american)
    p_under = implied_probability(under_american)
    return p_over / (p_over + p_under)


def expected_value(win: float, lose: float, american: int) -> float:
    """EV per unit staked; a push (1 - win - lose) returns the stake."""
    return win * (decimal_odds(american) - 1) - lose


def kelly_fraction(
    win: float,
    lose: float,
    american: int,
    *,
    multiplier: float = KELLY_MULTIPLIER,
    cap: float = KELLY_CAP,
) -> float:
    """Fractional Kelly stake as a share of bankroll, never negative, at most `cap`."""
    b = decimal_odds(american) - 1
    full = (b * win - lose) / b
    return max(0.0, min(cap, full * multiplier))


@dataclass(frozen=True, slots=True)
class Pricing:
    expected_value_over: float
    expected_value_under: float
    recommendation: Recommendation
    expected_value: float
    kelly_fraction: float
    confidence: float


def price(
    odds: LineOdds,
    *,
    odds_over: int = DEFAULT_AMERICAN_ODDS,
    odds_under: int = DEFAULT_AMERICAN_ODDS,
    min_edge: float = MIN_EDGE,
) -> Pricing:
    ev_over = expected_value(odds.over_probability, odds.under_probability, odds_over)
    ev_under = expected_value(odds.under_probability, odds.over_probability, odds_under)
    decided = odds.over_probability + odds.under_probability
    if ev_over >= ev_under:
        side: Recommendation = "OVER"
        ev, p_win, p_lose, american = (
            ev_over,
            odds.over_probability,
            odds.under_probability,
            odds_over,
        )
    else:
        side, ev, p_win, p_lose, american = (
            "UNDER",
            ev_under,
            odds.under_probability,
            odds.over_probability,
            odds_under,
        )
    # Confidence: how likely the favoured side wins when the bet is decided (no push).
    confidence = p_win / decided if decided > 0 else 0.5
    if ev < min_edge:
        return Pricing(ev_over, ev_under, "PASS", ev, 0.0, confidence)
    return Pricing(ev_over, ev_under, side, ev, kelly_fraction(p_win, p_lose, american), confidence)
