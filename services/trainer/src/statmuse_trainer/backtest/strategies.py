"""Betting strategies: which side of a quote to bet, if any (selection), and how much
(staking). Each is a small value, so new ones plug in without touching the engine.

Selection rules, all on our calibrated probabilities at the quoted line and price:
- `ev`: the side with the larger expected value, when that EV is above zero;
- `confidence` / `high_confidence`: the same side, when it also wins at least 60% / 70% of
  the time it is decided (the product's `confidence`: P(win) / (1 − P(push)));
- `underdog`: the over, whenever the line sits below the player's season average (no model
  needed: it asks whether the books shade such lines too low);
- `kelly`: the `ev` selection, staked by fractional Kelly with a cap per bet;
- `flat`: every quote, the side with the larger EV whatever it is (the bare model, no filter).

Staking: `flat` stakes one unit (a fixed share of the starting bankroll) per bet; `kelly`
stakes the Kelly fraction × a multiplier of the morning's bankroll, never more than the cap.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from statmuse_shared.models.pricing import kelly_fraction
from statmuse_trainer.backtest.ledger import Side


class Staking(StrEnum):
    FLAT = "flat"
    KELLY = "kelly"


@dataclass(frozen=True, slots=True)
class Option:
    """One side of a quote, as a strategy sees it."""

    side: Side
    line: float
    american: int
    book: str
    win: float
    lose: float
    push: float
    expected_value: float

    @property
    def confidence(self) -> float:
        decided = self.win + self.lose
        return self.win / decided if decided > 0 else 0.5


@dataclass(frozen=True, slots=True)
class Choice:
    """What a strategy is shown: both sides, and what else it may use."""

    over: Option
    under: Option
    season_average: float | None

    @property
    def best(self) -> Option:
        return self.over if self.over.expected_value >= self.under.expected_value else self.under


Select = Callable[[Choice], Option | None]


def value(c: Choice) -> Option | None:
    best = c.best
    return best if best.expected_value > 0 else None


def confident(threshold: float) -> Select:
    def select(c: Choice) -> Option | None:
        best = c.best
        return best if best.expected_value > 0 and best.confidence >= threshold else None

    return select


def underdog(c: Choice) -> Option | None:
    if c.season_average is None or not c.over.line < c.season_average:
        return None
    return c.over


def favoured(c: Choice) -> Option:
    return c.best


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    rule: str
    select: Select
    staking: Staking = Staking.FLAT
    unit: float = 0.01  # flat: share of the starting bankroll per bet
    kelly_multiplier: float = 0.25
    cap: float = 0.02  # kelly: most of the morning's bankroll on one bet

    @property
    def description(self) -> str:
        if self.staking == Staking.FLAT:
            return f"{self.rule}, flat stakes of {self.unit:.0%} of the starting bankroll"
        return f"{self.rule}, Kelly × {self.kelly_multiplier:g} capped at {self.cap:.0%}"

    def stake(self, option: Option, *, bankroll: float, starting: float) -> float:
        if bankroll <= 0:
            return 0.0
        if self.staking == Staking.FLAT:
            return min(self.unit * starting, bankroll)
        share = kelly_fraction(
            option.win, option.lose, option.american, multiplier=self.kelly_multiplier, cap=self.cap
        )
        return share * bankroll


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("ev", "EV > 0", value),
        Strategy("confidence", "EV > 0 and confidence ≥ 60%", confident(0.60)),
        Strategy("high_confidence", "EV > 0 and confidence ≥ 70%", confident(0.70)),
        Strategy("underdog", "over when the line is below the season average", underdog),
        Strategy("kelly", "EV > 0", value, Staking.KELLY),
        Strategy("flat", "every quote, the side with the larger EV", favoured),
    )
}


def configured(
    names: list[str],
    *,
    staking: Staking | None = None,
    unit: float = 0.01,
    kelly_multiplier: float = 0.25,
    cap: float = 0.02,
) -> list[Strategy]:
    """The named strategies with the run's staking parameters; unknown names are an error."""
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")
    out = []
    for name in names:
        s = STRATEGIES[name]
        out.append(
            replace(
                s,
                unit=unit,
                kelly_multiplier=kelly_multiplier,
                cap=cap,
                staking=staking or s.staking,
            )
        )
    return out
