"""Line shopping: every book's EV, the books' median fair price, and a best price that never
comes from a book out of line with the others."""

import pytest

from statmuse_shared.models.pricing import devig, expected_value
from statmuse_shared.models.shopping import (
    Posted,
    american_from_decimal,
    median_price,
    outliers,
    shop,
)


def test_a_price_far_more_generous_than_the_others_is_an_outlier() -> None:
    # +150 implies 0.40 against the books' median 0.52: a book that has not moved with the
    # market.
    assert outliers([-110, -115, -108, 150]) == [False, False, False, True]
    # A stingy price is never an outlier (nobody is tempted by it), nor a lone one.
    assert outliers([-110, -112, -200]) == [False, False, False]
    assert outliers([150]) == [False]


def test_two_books_that_disagree_by_more_than_twice_the_tolerance_flag_the_generous_one() -> None:
    assert outliers([-110, 140]) == [False, True]  # 0.524 and 0.417
    assert outliers([-110, 115]) == [False, False]  # 0.524 and 0.465


def test_the_best_price_skips_the_stale_book_and_every_book_keeps_its_ev() -> None:
    posted = [
        Posted("draftkings", -110, -110),
        Posted("fanduel", -105, -115),
        Posted("stale", 160, -220),
    ]
    shopped = shop(posted, over=0.5, under=0.5)
    stale = shopped.books[2]
    assert stale.over_outlier
    assert not stale.under_outlier
    assert stale.ev_over == pytest.approx(expected_value(0.5, 0.5, 160))  # shown, not taken
    assert shopped.best is not None
    assert (shopped.best.book, shopped.best.side, shopped.best.price) == ("fanduel", "over", -105)
    assert shopped.best.expected_value == pytest.approx(expected_value(0.5, 0.5, -105))
    assert shopped.recommendation == "PASS"  # -2.4% at the best price that counts
    assert shopped.fair_over == pytest.approx(devig(-105, -115))  # the median of the three
    assert shopped.consensus_over == -105
    assert shopped.consensus_under == -115


def test_an_edge_of_two_percent_recommends_the_side() -> None:
    posted = [Posted("a", -110, -110), Posted("b", -112, -108)]
    assert shop(posted, over=0.56, under=0.44).recommendation == "OVER"
    assert shop(posted, over=0.43, under=0.57).recommendation == "UNDER"
    assert shop(posted, over=0.52, under=0.48).recommendation == "PASS"


def test_a_book_without_an_under_price_has_no_fair_price_and_no_under() -> None:
    shopped = shop([Posted("a", -110, None), Posted("b", -110, -110)], over=0.5, under=0.5)
    assert shopped.books[0].fair_over is None
    assert shopped.books[0].ev_under is None
    assert shopped.fair_over == pytest.approx(0.5)
    assert shopped.consensus_under == -110


def test_a_push_returns_the_stake() -> None:
    # Whole-number line: 10% push, so at even money the over is worth 0.5 - 0.4.
    shopped = shop([Posted("a", 100, 100)], over=0.5, under=0.4)
    assert shopped.books[0].ev_over == pytest.approx(0.1)


def test_no_books_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        shop([], over=0.5, under=0.5)


@pytest.mark.parametrize("american", [-250, -110, 100, 105, 250])
def test_american_prices_survive_the_round_trip_through_decimal(american: int) -> None:
    assert median_price([american]) == american
    decimal = 1 + (american / 100 if american > 0 else 100 / -american)
    assert american_from_decimal(decimal) == american
