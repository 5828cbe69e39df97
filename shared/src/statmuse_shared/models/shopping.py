"""Line shopping without the stale book: one prop line as several books post it, priced with
one P(over) from our model.

Every book's price is kept and its EV shown. The books' fair P(over) is the median of their
de-vigged prices, and the consensus price of each side is the median price (the backtest scores
its `consensus` mode the same way). The best price is only taken from prices that agree with
the other books: a side's price is an *outlier* when its implied probability is more than
`OUTLIER_TOLERANCE` below the median implied probability of that side across the books posting
the line. Such a price is usually a book that has not moved with the market. In the bundled
2023-24 lines, 0.11% of the sides are that far off (1.5% are 0.03 off), and shopping among them
anyway lets one book that has not moved make line shopping look like free money. With two books
the generous one is an outlier when the two are more than twice the tolerance apart; with one
there is nothing to compare: its price is used, and the answer says how many books posted it.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from statmuse_shared.models.pricing import (
    MIN_EDGE,
    decimal_odds,
    devig,
    expected_value,
    implied_probability,
)

OUTLIER_TOLERANCE = 0.05

Side = Literal["over", "under"]


@dataclass(frozen=True, slots=True)
class Posted:
    """One book's prices for a prop line."""

    book: str
    over_price: int
    under_price: int | None


@dataclass(frozen=True, slots=True)
class BookQuote:
    book: str
    over_price: int
    under_price: int | None
    fair_over: float | None  # this book's de-vigged P(over); None without an under price
    ev_over: float
    ev_under: float | None
    over_outlier: bool
    under_outlier: bool


@dataclass(frozen=True, slots=True)
class Best:
    book: str
    side: Side
    price: int
    expected_value: float


@dataclass(frozen=True, slots=True)
class Shopped:
    books: tuple[BookQuote, ...]
    fair_over: float | None  # the books' median de-vigged P(over)
    consensus_over: int | None  # the median price of each side
    consensus_under: int | None
    best: Best | None  # the best EV among the prices that are not outliers
    recommendation: Literal["OVER", "UNDER", "PASS"]


def american_from_decimal(decimal: float) -> int:
    """Decimal odds back to American, rounded to the nearest whole price."""
    if decimal >= 2:
        return round((decimal - 1) * 100)
    return -round(100 / (decimal - 1))


def outliers(prices: Sequence[int], *, tolerance: float = OUTLIER_TOLERANCE) -> list[bool]:
    """For each price of one side, whether it is more generous than the books' median by more
    than `tolerance` in implied probability (never, with one price)."""
    implied = [implied_probability(p) for p in prices]
    centre = statistics.median(implied)
    return [p < centre - tolerance for p in implied]


def median_price(prices: Sequence[int]) -> int:
    return american_from_decimal(statistics.median(decimal_odds(p) for p in prices))


def books_fair_over(posted: Sequence[Posted]) -> float | None:
    """The books' median de-vigged P(over) (books with both sides' prices); None without one.
    What `shop` reports as `fair_over`, before any model's view is known."""
    fair = [devig(p.over_price, p.under_price) for p in posted if p.under_price is not None]
    return statistics.median(fair) if fair else None


def shop(
    posted: Sequence[Posted],
    *,
    over: float,
    under: float,
    tolerance: float = OUTLIER_TOLERANCE,
    min_edge: float = MIN_EDGE,
) -> Shopped:
    """Every book's EV at our P(over)/P(under) (a push returns the stake), the books' fair
    P(over), the consensus prices, and the best non-outlier price with its recommendation:
    OVER or UNDER when its EV is at least `min_edge`, else PASS."""
    if not posted:
        raise ValueError("a prop line needs at least one book's prices")
    over_out = outliers([p.over_price for p in posted], tolerance=tolerance)
    with_under = [p for p in posted if p.under_price is not None]
    under_flags = outliers(
        [p.under_price for p in with_under if p.under_price is not None], tolerance=tolerance
    )
    under_out = {id(p): flag for p, flag in zip(with_under, under_flags, strict=True)}
    quotes = []
    candidates: list[Best] = []
    for p, o_out in zip(posted, over_out, strict=True):
        ev_over = expected_value(over, under, p.over_price)
        ev_under = None if p.under_price is None else expected_value(under, over, p.under_price)
        u_out = under_out.get(id(p), False)
        quotes.append(
            BookQuote(
                book=p.book,
                over_price=p.over_price,
                under_price=p.under_price,
                fair_over=None if p.under_price is None else devig(p.over_price, p.under_price),
                ev_over=ev_over,
                ev_under=ev_under,
                over_outlier=o_out,
                under_outlier=u_out,
            )
        )
        if not o_out:
            candidates.append(Best(p.book, "over", p.over_price, ev_over))
        if ev_under is not None and p.under_price is not None and not u_out:
            candidates.append(Best(p.book, "under", p.under_price, ev_under))
    unders = [p.under_price for p in with_under if p.under_price is not None]
    # Ties go to the book listed first: sources list books in a stable order.
    best = max(candidates, key=lambda b: b.expected_value) if candidates else None
    recommendation: Literal["OVER", "UNDER", "PASS"] = "PASS"
    if best is not None and best.expected_value >= min_edge:
        recommendation = "OVER" if best.side == "over" else "UNDER"
    return Shopped(
        books=tuple(quotes),
        fair_over=books_fair_over(posted),
        consensus_over=median_price([p.over_price for p in posted]),
        consensus_under=median_price(unders) if unders else None,
        best=best,
        recommendation=recommendation,
    )
