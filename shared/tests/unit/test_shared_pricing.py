import pytest

from statmuse_shared.models.distributions import LineOdds
from statmuse_shared.models.pricing import (
    decimal_odds,
    devig,
    expected_value,
    implied_probability,
    kelly_fraction,
    price,
)


def raw_probability(american: int) -> float:
    """The README's formula: 100/(odds+100) for positive, -odds/(-odds+100) for negative odds."""
    return 100 / (american + 100) if american > 0 else -american / (-american + 100)


@pytest.mark.parametrize(
    ("american", "decimal"),
    [(-110, 1 + 100 / 110), (150, 2.5), (-100, 2.0), (100, 2.0), (-200, 1.5), (300, 4.0)],
)
def test_decimal_odds(american: int, decimal: float) -> None:
    assert decimal_odds(american) == pytest.approx(decimal, abs=1e-12)


def test_minus_110_decimal_odds_value() -> None:
    assert decimal_odds(-110) == pytest.approx(1.9090909090909, abs=1e-12)


@pytest.mark.parametrize("american", [0, 99, -99, 50, -1])
def test_odds_strictly_between_minus_and_plus_100_are_refused(american: int) -> None:
    with pytest.raises(ValueError, match="American odds"):
        decimal_odds(american)


@pytest.mark.parametrize("american", [-110, -250, 150, 105, -100, 100])
def test_implied_probability_matches_the_readme_formula(american: int) -> None:
    assert implied_probability(american) == pytest.approx(raw_probability(american), abs=1e-12)


@pytest.mark.parametrize(
    ("over", "under"), [(-110, -110), (150, -180), (-115, -105), (105, -125), (200, 200)]
)
def test_devig_matches_the_formula(over: int, under: int) -> None:
    p_over, p_under = raw_probability(over), raw_probability(under)
    assert devig(over, under) == pytest.approx(p_over / (p_over + p_under), abs=1e-12)


def test_devig_hand_computed() -> None:
    assert devig(-110, -110) == pytest.approx(0.5, abs=1e-12)
    # +150 -> 0.4; -180 -> 180/280; fair over = 0.4 / (0.4 + 0.642857...)
    assert devig(150, -180) == pytest.approx(0.38356164383561636, abs=1e-12)
    assert devig(150, -180) + devig(-180, 150) == pytest.approx(1.0, abs=1e-12)


def test_expected_value_hand_computed() -> None:
    # 0.55 * (100/110) - 0.45 = 0.5 - 0.45
    assert expected_value(0.55, 0.45, -110) == pytest.approx(0.05, abs=1e-12)
    # A 20% push returns the stake: 0.5 * 1.5 - 0.3
    assert expected_value(0.5, 0.3, 150) == pytest.approx(0.45, abs=1e-12)
    # Break-even at -110 is 110/210
    assert expected_value(110 / 210, 100 / 210, -110) == pytest.approx(0.0, abs=1e-12)


def test_kelly_fraction_hand_computed() -> None:
    # b = 100/110; full Kelly = (b*0.55 - 0.45)/b = 0.05 / 0.90909 = 0.055
    assert kelly_fraction(0.55, 0.45, -110, multiplier=1.0, cap=1.0) == pytest.approx(0.055)
    assert kelly_fraction(0.55, 0.45, -110) == pytest.approx(0.055 * 0.25)  # quarter Kelly


def test_kelly_fraction_is_capped() -> None:
    # full Kelly at even money with p=0.7 is 0.4; a quarter is 0.1; capped at 2%
    assert kelly_fraction(0.7, 0.3, 100, multiplier=1.0, cap=1.0) == pytest.approx(0.4)
    assert kelly_fraction(0.7, 0.3, 100) == pytest.approx(0.02)
    assert kelly_fraction(0.7, 0.3, 100, cap=0.05) == pytest.approx(0.05)


@pytest.mark.parametrize(("win", "lose", "american"), [(0.3, 0.7, -110), (0.5, 0.5, -110)])
def test_kelly_fraction_is_never_negative(win: float, lose: float, american: int) -> None:
    assert kelly_fraction(win, lose, american) == 0.0


def test_price_recommends_the_side_with_the_edge() -> None:
    over = price(LineOdds(under_probability=0.45, push_probability=0.0, over_probability=0.55))
    assert over.recommendation == "OVER"
    assert over.expected_value == pytest.approx(0.05)
    assert over.expected_value_under == pytest.approx(0.45 / 1.1 - 0.55)
    assert over.kelly_fraction == pytest.approx(0.01375)
    assert over.confidence == pytest.approx(0.55)

    under = price(LineOdds(under_probability=0.6, push_probability=0.0, over_probability=0.4))
    assert under.recommendation == "UNDER"
    assert under.expected_value == pytest.approx(0.6 / 1.1 - 0.4)
    assert under.kelly_fraction == pytest.approx(0.02)  # quarter Kelly 0.04, capped


def test_price_passes_below_min_edge() -> None:
    odds = LineOdds(under_probability=0.465, push_probability=0.0, over_probability=0.535)
    # EV(over) = 0.535/1.1 - 0.465 = 0.02136...
    assert price(odds).recommendation == "OVER"
    passed = price(odds, min_edge=0.03)
    assert passed.recommendation == "PASS"
    assert passed.kelly_fraction == 0.0
    assert passed.expected_value == pytest.approx(0.535 / 1.1 - 0.465)


def test_price_passes_a_coin_flip_at_minus_110() -> None:
    result = price(LineOdds(under_probability=0.49, push_probability=0.0, over_probability=0.51))
    assert result.recommendation == "PASS"
    assert result.expected_value < 0


def test_confidence_ignores_pushes() -> None:
    result = price(LineOdds(under_probability=0.3, push_probability=0.2, over_probability=0.5))
    assert result.recommendation == "OVER"
    assert result.confidence == pytest.approx(0.5 / 0.8)


def test_price_uses_the_offered_odds() -> None:
    odds = LineOdds(under_probability=0.55, push_probability=0.0, over_probability=0.45)
    # +150 on the over: 0.45 * 1.5 - 0.55 = 0.125 beats the under at -110 (0.55/1.1 - 0.45 = 0.05)
    result = price(odds, odds_over=150)
    assert result.recommendation == "OVER"
    assert result.expected_value == pytest.approx(0.125)
