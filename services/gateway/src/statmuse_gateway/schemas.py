"""HTTP schemas (the frontend's contract); separate from the Kafka messages."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from statmuse_shared.stats import Stat

DISCLAIMER = (
    "For information and entertainment only; not betting advice. Predictions are uncertain and "
    "past results do not guarantee future ones. You must be 21+ (or the legal age where you "
    "live) to bet. If gambling is a problem for you or someone you know, call 1-800-GAMBLER or "
    "visit the National Council on Problem Gambling at https://www.ncpgambling.org."
)
HELP_LINKS = {
    "National Council on Problem Gambling": "https://www.ncpgambling.org",
    "1-800-GAMBLER": "tel:1-800-426-2537",
}

AmericanOdds = Annotated[
    int, Field(description="American odds, <= -100 or >= +100", examples=[-110, 105])
]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    player: str = Field(min_length=2, max_length=80, examples=["LeBron James"])
    stat: Stat = Field(examples=["points"])
    line: float = Field(ge=0, le=150, examples=[25.5])
    odds_over: AmericanOdds | None = None
    odds_under: AmericanOdds | None = None
    game_date: dt.date | None = Field(
        default=None, description="Use only games before this date (default: latest data)"
    )
    opponent: str | None = Field(default=None, pattern=r"^[A-Z]{2,3}$", examples=["DEN"])

    @field_validator("line")
    @classmethod
    def _half_points(cls, value: float) -> float:
        if (value * 2) != int(value * 2):
            raise ValueError("line must be a whole or half number, e.g. 25 or 25.5")
        return value

    @field_validator("odds_over", "odds_under")
    @classmethod
    def _american(cls, value: int | None) -> int | None:
        if value is not None and -100 < value < 100:
            raise ValueError("American odds must be <= -100 or >= +100")
        return value


class FeatureContribution(BaseModel):
    feature: str
    value: float | None
    contribution: float


class DistributionPoint(BaseModel):
    value: int
    probability: float


class PredictResponse(BaseModel):
    player: str
    player_id: int
    stat: Stat
    line: float
    as_of: dt.date = Field(description="Data up to the day before this date was used")
    predicted_value: float
    over_probability: float
    under_probability: float
    push_probability: float
    recommendation: Literal["OVER", "UNDER", "PASS"]
    confidence: float
    expected_value: float = Field(description="EV per unit staked on the recommended side")
    kelly_fraction: float
    odds_over: int
    odds_under: int
    model_version: str
    fallback: str | None = Field(description="Set when the model fell back (e.g. season mean)")
    explanation: list[FeatureContribution]
    distribution: list[DistributionPoint]
    disclaimer: str = DISCLAIMER
    help_links: dict[str, str] = Field(default_factory=lambda: dict(HELP_LINKS))


class ErrorBody(BaseModel):
    detail: str
    suggestions: list[str] = Field(default_factory=list)


class ModelInfo(BaseModel):
    name: str
    version: str
    stat: Stat
    player_id: int | None
    alias: str
    model_type: str
    metrics: dict[str, float | int | None]
    feature_set_version: str
    updated_at: dt.datetime
