"""Outlier flags: a box score far from the player's own earlier games is kept but flagged.

Pure, like `service`: the player's history before the games in hand comes in as running
figures (`Running`), from storage or from an earlier scan.
"""

from dataclasses import dataclass

from statmuse_ingestor.service import Normalised

OUTLIER_STATS = ("points", "rebounds", "assists")
OUTLIER_SD = 3.0
OUTLIER_MIN_GAMES = 10


@dataclass
class Running:
    """Welford running mean and variance of one stat for one player."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @property
    def sd(self) -> float:
        return (self.m2 / (self.n - 1)) ** 0.5 if self.n > 1 else 0.0

    @classmethod
    def from_aggregate(cls, n: int, mean: float, sd: float) -> "Running":
        return cls(n=n, mean=mean, m2=sd * sd * (n - 1) if n > 1 else 0.0)


def flag_outliers(
    games: list[Normalised], prior: dict[tuple[int, str], Running]
) -> list[Normalised]:
    """Flag (never drop) box scores more than 3 sd from the player's own earlier games.

    `games` must be in date order; `prior` holds each player's history before them and is
    updated as the scan goes, so the same rule holds in one run or many."""
    out = []
    for n in games:
        g = n.game
        reasons = []
        for stat in OUTLIER_STATS:
            value = float(getattr(g, stat))
            history = prior.setdefault((g.player_id, stat), Running())
            if history.n >= OUTLIER_MIN_GAMES and history.sd > 0:
                z = (value - history.mean) / history.sd
                if abs(z) > OUTLIER_SD:
                    reasons.append(f"{stat} {value:g} is {z:+.1f} sd from {history.mean:.1f}")
            history.add(value)
        if reasons:
            n = Normalised(
                g.model_copy(update={"flagged": True, "flag_reason": "; ".join(reasons)}),
                n.checksum,
            )
        out.append(n)
    return out
