"""HTTP schemas (the frontend's contract); separate from the Kafka messages, except the small
value types of a priced prop (a book's prices, the best price), which the slate shows as the
predictor published them."""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from statmuse_shared.contract.messages import BestPrice, BookPrice
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features.teams import TEAM_UTC_OFFSET

DISCLAIMER = (
    "For information and entertainment only; not betting advice. Predictions are uncertain and "
    "past results do not guarantee future ones. You must be 21+ (or the legal age where you "
    "live) to bet. If gambling is a problem for you or someone you know, call 1-800-GAMBLER or "
    "visit the National Council on Problem Gambling at https://www.ncpgambling.org."
)
HELP_LINKS = {
    "National Council on Problem Gambling": "https://www.ncpgambling.org",
    "1-800-GAMBLER": "tel:1-800-426-2537",
    "Gamblers Anonymous": "https://www.gamblersanonymous.org",
}

# Realistic prices: a book's American odds lie within +/-10,000 (a 99% favourite is -9,900),
# and a bigger number is a typo whose "expected value" would be absurd.
MAX_ODDS = 10_000
AmericanOdds = Annotated[
    int,
    Field(
        strict=True,
        ge=-MAX_ODDS,
        le=MAX_ODDS,
        description=f"American odds, -{MAX_ODDS:,} to -100 or +100 to +{MAX_ODDS:,}",
        examples=[-110, 105],
    ),
]
# A team code must be one of the 30 NBA teams (a 2-3 letter pattern lets 'XYZ' through).
TEAM_CODES = tuple(sorted(TEAM_UTC_OFFSET))
TeamCode = Annotated[
    str,
    Field(
        strict=True,
        pattern=r"^[A-Z]{2,3}$",
        examples=["DEN"],
        json_schema_extra={"enum": list(TEAM_CODES)},
    ),
]


def _known_team(value: str | None) -> str | None:
    if value is not None and value not in TEAM_UTC_OFFSET:
        raise ValueError(f"unknown team code; one of {', '.join(TEAM_CODES)}")
    return value


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    player: str = Field(min_length=2, max_length=80, strict=True, examples=["LeBron James"])
    stat: Stat = Field(examples=["points"])
    # A JSON number only (not true, not "25.5"), finite (not NaN, Infinity or 1e309).
    line: float = Field(ge=0, le=150, strict=True, allow_inf_nan=False, examples=[25.5])
    odds_over: AmericanOdds | None = None
    odds_under: AmericanOdds | None = None
    game_date: dt.date | None = Field(
        default=None,
        description="The game's date: the player's team must play that day (404 otherwise); "
        "default: his next game",
    )
    opponent: TeamCode | None = Field(
        default=None,
        description="An NBA team code, checked against the schedule (409 when it is not the "
        "game's opponent)",
    )

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

    _team = field_validator("opponent")(_known_team)


class FeatureContribution(BaseModel):
    feature: str
    value: float | None
    contribution: float


class DistributionPoint(BaseModel):
    value: int
    probability: float


class GameInfo(BaseModel):
    """The game a prediction is for."""

    game_date: dt.date
    opponent: str
    home: bool
    season_type: str


class PredictResponse(BaseModel):
    player: str
    player_id: int
    stat: Stat
    line: float
    as_of: dt.date = Field(description="Data up to the day before this date was used")
    game: GameInfo | None = Field(
        default=None,
        description="The game this is for, when the schedule has it (opponent, home/away, "
        "rest and travel are then in the features); None: the player's next game, whichever "
        "it is, without its context",
    )
    data_as_of: dt.date | None = Field(
        default=None, description="The date of the last game the data includes"
    )
    stale: bool = Field(
        default=False,
        description="The data is older than GATEWAY_STALE_AFTER_DAYS before the game (or "
        "before today, when the game is not known): the player has not played for a while, "
        "or the data has not been updated",
    )
    predicted_value: float
    over_probability: float = Field(
        description="P(over) at this line, the number pricing and the recommendation use: "
        "with both odds given, the books' de-vigged price weighed with the model's view "
        "(method market_layer); else the model's mean weighed against the line itself "
        "(line_blend, line_weight). The distribution drawn is the one it comes from"
    )
    under_probability: float
    push_probability: float
    model_over_probability: float = Field(
        description="P(over) from the model's own distribution, without the line's evidence"
    )
    line_weight: float | None = Field(
        default=None,
        description="Weight of the model's mean against the line (1: the model alone); "
        "fitted on earlier real lines. None: the line blend was not used",
    )
    method: Literal["market_layer", "line_blend", "model"] = Field(
        default="model",
        description="How over_probability was made: market_layer (the books' price given by "
        "odds_over and odds_under, and the model), line_blend (the line and the model's mean) "
        "or model (the model alone)",
    )
    books_over_probability: float | None = Field(
        default=None,
        description="The books' de-vigged P(over) from odds_over and odds_under, when the "
        "market layer used it",
    )
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
    run_url: str | None = Field(
        default=None, description="The MLflow run that trained it (when MLFLOW_UI_URL is set)"
    )
    registry_url: str | None = Field(
        default=None, description="Its MLflow model version (when MLFLOW_UI_URL is set)"
    )


# Batches: at most this many items per request (the settings may lower it, never raise it).
BATCH_MAX_ITEMS = 50


def _items_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A batch's items as the API documents them: each one `model` (inline, its own types
    referenced in the OpenAPI components), though each is validated on its own."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"type": "array", "items": schema, "minItems": 1, "maxItems": BATCH_MAX_ITEMS}


ItemStatus = Literal["ok", "invalid", "not_found", "error", "timeout"]
_PREDICT_EXAMPLE: dict[str, Any] = {
    "player": "LeBron James",
    "stat": "points",
    "line": 25.5,
    "odds_over": -110,
    "odds_under": -110,
}


class BatchPredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        _PREDICT_EXAMPLE,
                        {"player": "Nikola Jokic", "stat": "rebounds", "line": 12.5},
                    ]
                }
            ]
        },
    )

    # Each item is validated on its own (`PredictRequest`): an invalid one is answered with
    # the status "invalid", the others as usual.
    items: Annotated[
        list[Any],
        WithJsonSchema(_items_schema(PredictRequest)),
    ] = Field(
        min_length=1,
        max_length=BATCH_MAX_ITEMS,
        description=f"1 to {BATCH_MAX_ITEMS} props, each exactly the body of POST /api/predict; "
        "an item that is not a valid one gets the status invalid",
    )


class PlayerContextQuery(BaseModel):
    """The query parameters of GET /api/player_context, as one batch item."""

    model_config = ConfigDict(extra="forbid")

    player_name: str = Field(min_length=2, max_length=80, strict=True, examples=["LeBron James"])
    stat_type: Stat | None = Field(default=None, description="Highlights this stat")
    game_date: dt.date | None = Field(default=None, description="Default: the next game")
    opponent: TeamCode | None = None
    is_home: bool | None = None

    _team = field_validator("opponent")(_known_team)


class BatchPlayerContextRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"player_name": "LeBron James", "stat_type": "points", "opponent": "DEN"},
                        {"player_name": "Stephen Curry"},
                    ]
                }
            ]
        },
    )

    items: Annotated[
        list[Any],
        WithJsonSchema(_items_schema(PlayerContextQuery)),
    ] = Field(
        min_length=1,
        max_length=BATCH_MAX_ITEMS,
        description="Each item validated on its own; an invalid one gets the status invalid",
    )


class BatchItem(BaseModel):
    index: int = Field(ge=0, description="Position of the item in the request")
    status: ItemStatus = Field(
        description="ok; invalid (the item is not a valid request: `error` says why, and the "
        "other items are still answered); not_found (unknown player, no games before the "
        "date); error (e.g. no "
        "production model yet, a dependency down); timeout (the item or the batch ran out of "
        "time)"
    )
    error: str | None = Field(default=None, description="Why the item failed")
    suggestions: list[str] | None = Field(
        default=None, description="Closest known names, for an unknown player"
    )

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # Absent, not null: an ok item has no `error`, a failed one no result. Only this
        # level: a result's own null fields (e.g. `fallback`) stay.
        data = handler(self)
        for name in ("error", "suggestions", "prediction", "context"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class BatchPredictItem(BatchItem):
    prediction: PredictResponse | None = None


class BatchPlayerContextItem(BatchItem):
    context: dict[str, Any] | None = Field(
        default=None, description="What GET /api/player_context answers for this item"
    )


class _BatchResponse(BaseModel):
    ok: int = Field(ge=0, description="Items with status ok")
    failed: int = Field(ge=0, description="Items with any other status")
    disclaimer: str = DISCLAIMER
    help_links: dict[str, str] = Field(default_factory=lambda: dict(HELP_LINKS))


class BatchPredictResponse(_BatchResponse):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "index": 0,
                            "status": "ok",
                            "prediction": {
                                "player": "LeBron James",
                                "stat": "points",
                                "line": 25.5,
                                "over_probability": 0.47,
                                "...": "...",
                            },
                        },
                        {
                            "index": 1,
                            "status": "not_found",
                            "error": "unknown player 'Lebron Jmes'",
                            "suggestions": ["LeBron James"],
                        },
                        {"index": 2, "status": "timeout", "error": "not done within 5 s"},
                    ],
                    "ok": 1,
                    "failed": 2,
                    "disclaimer": DISCLAIMER,
                }
            ]
        }
    )

    results: list[BatchPredictItem] = Field(description="One per item, in request order")


class BatchPlayerContextResponse(_BatchResponse):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "index": 0,
                            "status": "ok",
                            "context": {
                                "player_name": "LeBron James",
                                "season_averages": {"points": 25.7},
                                "...": "...",
                            },
                        },
                        {
                            "index": 1,
                            "status": "not_found",
                            "error": "unknown player 'Stef Cury'",
                            "suggestions": ["Stephen Curry"],
                        },
                    ],
                    "ok": 1,
                    "failed": 1,
                    "disclaimer": DISCLAIMER,
                }
            ]
        }
    )

    results: list[BatchPlayerContextItem] = Field(description="One per item, in request order")


ServingKey = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9_]+(:[1-9][0-9]*)?$",
        description="A stat, or '<stat>:<player_id>' for a per-player model",
        examples=["points", "points:2544"],
    ),
]


class ModelCommandAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": True,
                    "action": "promote",
                    "key": "points",
                    "event_id": "5b0f8a4e-2c71-4d1e-9a53-0f6f3e1c2b7d",
                }
            ]
        }
    )

    accepted: bool = Field(
        default=True,
        description="The command is on the topic; the trainer carries it out and publishes "
        "ModelPublished (or a dead letter with the reason it could not)",
    )
    action: Literal["promote", "rollback", "pin", "unpin"]
    key: ServingKey
    event_id: str = Field(description="The command's event id, to trace it")


class LoadRequest(BaseModel):
    """Serve a registered version of a serving key beside production (admin)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"version": "v2026-12-07-points-voting", "mode": "canary", "share": 0.1},
                {"version": "v2026-12-07-points-voting", "mode": "shadow"},
            ]
        },
    )

    version: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="A registered version of this key (GET /api/models lists them)",
    )
    mode: Literal["canary", "shadow"] = Field(
        description="canary: answers `share` of the (player, date) pairs; shadow: priced "
        "beside production for the A/B test, never answered with"
    )
    share: float | None = Field(
        default=None,
        gt=0,
        le=0.5,
        strict=True,
        allow_inf_nan=False,
        description="canary: the share of (player, date) pairs it answers (0 < share <= 0.5)",
    )

    @model_validator(mode="after")
    def _share_matches_mode(self) -> "LoadRequest":
        if self.mode == "canary" and self.share is None:
            raise ValueError("a canary needs a share: the part of the traffic it answers")
        if self.mode == "shadow" and self.share is not None:
            raise ValueError("a shadow answers nobody: leave the share out")
        return self


class SlateProp(BaseModel):
    """One posted prop line of the day, priced at every book (the predictor's PropPriced)."""

    model_config = ConfigDict(extra="ignore")

    player: str = Field(validation_alias="player_name")
    player_id: int
    team: str | None
    opponent: str | None
    home: bool | None = Field(validation_alias="is_home")
    stat: Stat
    line: float
    over_probability: float = Field(description="Ours, as /api/predict answers at this line")
    under_probability: float
    push_probability: float
    model_over_probability: float = Field(description="The model's own view, before the line")
    line_weight: float | None
    books_over_probability: float | None = Field(
        description="The books' median de-vigged P(over) at this line"
    )
    edge: float | None = Field(description="Our P(over | no push) minus the books'")
    books: list[BookPrice] = Field(description="Every book's prices and what each side is worth")
    consensus_over: int | None = Field(description="The books' median over price")
    consensus_under: int | None
    best: BestPrice | None = Field(
        description="The best EV among the prices that are not outliers against the other books"
    )
    recommendation: Literal["OVER", "UNDER", "PASS"] = Field(
        description="The best price's side when its EV is at least 2%, else PASS"
    )
    as_of: dt.date
    data_as_of: dt.date | None = Field(description="The player's last game in the data")
    stale: bool = Field(default=False, description="The data is older than the gateway allows")
    model_version: str


class SlateResponse(BaseModel):
    date: dt.date
    count: int
    props: list[SlateProp]
    dates: list[dt.date] = Field(
        description="Other dates with posted props (up to 7 either side of this one)"
    )
    disclaimer: str = DISCLAIMER


class DailyLimitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_limit: int | None = Field(
        ge=0,
        le=10_000,
        strict=True,
        examples=[20],
        description="Predictions a day (US Eastern) for this key; null removes the limit. A "
        "lower limit applies at once, a higher one (or none) 24 hours later",
    )


class KeyLimits(BaseModel):
    """An API key's own limits, as its holder sees them."""

    key_id: str
    name: str
    scopes: list[str]
    rate_limit_per_minute: int = Field(description="Requests a minute (set at creation)")
    daily_limit: int | None = Field(description="Predictions a day in force now; null: none")
    day: dt.date = Field(description="The counting day (US Eastern)")
    used_today: int = Field(description="Predictions so far that day")
    resets_at: dt.datetime = Field(description="When the day ends: midnight US Eastern")
    pending_daily_limit: int | None = Field(
        default=None, description="The limit that replaces it at pending_at (null: none)"
    )
    pending_at: dt.datetime | None = Field(
        default=None, description="When a raise (or removal) of the daily limit takes effect"
    )
    help_links: dict[str, str] = Field(default_factory=lambda: dict(HELP_LINKS))
