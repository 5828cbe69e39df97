"""Every Kafka payload. Events are past-tense facts, commands imperative.

Changes are additive: new optional fields only. A breaking change is a new versioned topic.
The AsyncAPI document is generated from these models, so every field is documented.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from typing_extensions import TypeAliasType

from statmuse_shared.contract.stats import Stat

SCHEMA_VERSION = 1

PlayerId = Annotated[int, Field(gt=0, description="NBA stats player id", examples=[2544])]
TeamAbbr = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2,3}$", description="NBA team abbreviation", examples=["LAL"]),
]
NonNegInt = Annotated[int, Field(ge=0)]
SeasonType = Annotated[
    Literal["Regular Season", "Playoffs", "Play-In", "Cup Final"],
    Field(
        description="Regular season, playoffs, play-in, or the NBA Cup final (GAME_ID 006…), "
        "which does not count in regular-season stats"
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Message(BaseModel):
    """Fields every message carries."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(
        description="Deterministic where possible (hash of source + natural key), so a replay "
        "makes the same id; consumers deduplicate on it or on the natural key.",
        examples=["0b9f3c2e-5d0c-5b7e-8a47-2f0a7f8b1d11"],
    )
    occurred_at: dt.datetime = Field(
        default_factory=_now, description="When the fact happened or the command was issued (UTC)"
    )
    schema_version: int = Field(
        default=SCHEMA_VERSION, ge=1, description="Version of this message's schema"
    )


class PlayerGameIngested(Message):
    """A player's box score for one game, validated and committed by the ingestor."""

    kind: Literal["player_game"] = Field(default="player_game", description="Discriminator")
    source: str = Field(description="Where the record came from", examples=["files", "nba_api"])
    season: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2023-24"])
    season_type: SeasonType
    game_id: str | None = Field(default=None, description="NBA GAME_ID when the source has it")
    game_key: str = Field(
        description="Natural game key '<date>:<away>@<home>' (every source has these; GAME_ID "
        "does not)",
        examples=["2023-10-24:LAL@DEN"],
    )
    game_date: dt.date = Field(description="US local date of the game")
    player_id: PlayerId
    player_name: str = Field(min_length=1, examples=["LeBron James"])
    team: TeamAbbr
    opponent: TeamAbbr
    is_home: bool
    minutes: float = Field(ge=0, le=70, description="Minutes played")
    points: NonNegInt
    rebounds: NonNegInt
    assists: NonNegInt
    steals: NonNegInt | None = None
    blocks: NonNegInt | None = None
    turnovers: NonNegInt | None = None
    fgm: NonNegInt | None = None
    fga: NonNegInt | None = None
    fg3m: NonNegInt | None = Field(default=None, description="Threes made; absent in some seasons")
    fg3a: NonNegInt | None = None
    ftm: NonNegInt | None = None
    fta: NonNegInt | None = None
    oreb: NonNegInt | None = None
    dreb: NonNegInt | None = None
    plus_minus: int | None = None
    flagged: bool = Field(default=False, description="Outlier against the player's own history")
    flag_reason: str | None = Field(
        default=None, description="Why it was flagged, e.g. 'points 61 is 4.2 sd above 24.1'"
    )


class TeamGameIngested(Message):
    """A team's box score for one game (opponent strength, pace and rest come from these)."""

    kind: Literal["team_game"] = Field(default="team_game", description="Discriminator")
    source: str
    season: str = Field(pattern=r"^\d{4}-\d{2}$")
    season_type: SeasonType
    game_id: str | None = None
    game_key: str = Field(description="Same key as the players' rows of this game")
    game_date: dt.date
    team: TeamAbbr
    team_id: int | None = Field(default=None, description="NBA stats team id")
    opponent: TeamAbbr
    is_home: bool
    won: bool | None = None
    minutes: float | None = Field(default=None, ge=0, description="Team minutes (240 + OT)")
    points: NonNegInt
    opponent_points: NonNegInt | None = Field(
        default=None, description="From PLUS_MINUS: points - plus_minus"
    )
    fgm: NonNegInt | None = None
    fga: NonNegInt | None = None
    fg3m: NonNegInt | None = None
    fg3a: NonNegInt | None = None
    ftm: NonNegInt | None = None
    fta: NonNegInt | None = None
    oreb: NonNegInt | None = None
    dreb: NonNegInt | None = None
    rebounds: NonNegInt | None = None
    assists: NonNegInt | None = None
    steals: NonNegInt | None = None
    blocks: NonNegInt | None = None
    tov: NonNegInt | None = Field(default=None, description="Turnovers")
    fouls: NonNegInt | None = None
    plus_minus: int | None = None
    flagged: bool = Field(default=False, description="Kept, but a field failed its check")
    flag_reason: str | None = None


# A named alias (not a bare Annotated), so schemas, the AsyncAPI document and dead-letter
# reasons call it RawGame.
RawGame = TypeAliasType(
    "RawGame", Annotated[PlayerGameIngested | TeamGameIngested, Field(discriminator="kind")]
)
"""What `nba.games.raw.v1` carries: player or team box scores, told apart by `kind`."""


def split_games(
    games: Iterable[PlayerGameIngested | TeamGameIngested],
) -> tuple[list[PlayerGameIngested], list[TeamGameIngested]]:
    """A batch of raw games as players' and teams' box scores, one per natural key (the last
    message for it wins). A team box is on every partition of the raw topic, so a consumer of
    several partitions gets it more than once; a corrected row comes again with a new event
    id. A store that upserts a batch in one statement must not see a key twice."""
    players: dict[tuple[int, str], PlayerGameIngested] = {}
    teams: dict[tuple[str, str], TeamGameIngested] = {}
    for g in games:
        if isinstance(g, PlayerGameIngested):
            players[(g.player_id, g.game_key)] = g
        else:
            teams[(g.team, g.game_key)] = g
    return list(players.values()), list(teams.values())


ScheduleStatus = Annotated[
    Literal["scheduled", "postponed", "cancelled", "final"],
    Field(
        description="scheduled: to be played on game_date; postponed: off that date, a new "
        "date to come (the game keeps its id); cancelled: will not be played; final: played "
        "(its box scores follow on nba.games.raw.v1)"
    ),
]


class GameScheduled(Message):
    """A game on the NBA schedule, as its source last gave it (key: the game id).

    The latest message per game id is the schedule: a game that is postponed, moved to
    another date or tip-off, or played is published again under the same key, and only when
    something in it changed. `game_key` is the box scores' key for the same game.
    """

    kind: Literal["scheduled_game"] = Field(default="scheduled_game", description="Discriminator")
    source: str = Field(description="Where the schedule came from", examples=["files", "nba_api"])
    season: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2023-24"])
    season_type: SeasonType
    game_id: str = Field(pattern=r"^\d{10}$", description="NBA GAME_ID", examples=["0022300061"])
    game_key: str = Field(
        description="'<date>:<away>@<home>', as on the game's box scores",
        examples=["2023-10-24:LAL@DEN"],
    )
    game_date: dt.date = Field(description="US local date of the game")
    tip_off: dt.datetime | None = Field(
        default=None, description="Scheduled tip-off (UTC), when the source has it"
    )
    home: TeamAbbr
    away: TeamAbbr
    status: ScheduleStatus = "scheduled"


class RecentForm(BaseModel):
    """What a player has been giving his team lately: his means over his recent appearances
    for it (the games the source's rotation rule looked at)."""

    model_config = ConfigDict(frozen=True)

    games: int = Field(ge=1, description="Appearances averaged", examples=[9])
    minutes: float = Field(ge=0, le=70, examples=[34.2])
    points: float = Field(ge=0, examples=[24.1])
    rebounds: float = Field(ge=0, examples=[7.3])
    assists: float = Field(ge=0, examples=[8.0])


class Absence(BaseModel):
    """A player who will not, or may not, play."""

    model_config = ConfigDict(frozen=True)

    player_id: PlayerId
    player_name: str = Field(min_length=1, examples=["LeBron James"])
    status: Literal["out", "doubtful", "questionable", "probable"] = Field(
        default="out",
        description="The official report's designations; the files source says only 'out'",
    )
    reason: str | None = Field(
        default=None, examples=["Injury/Illness - Left Ankle; Sprain", "not in the box score"]
    )
    recent: RecentForm | None = Field(
        default=None,
        description="His recent means for this team, what his absence takes from it (the "
        "input of the teammates-out features); None when the source has no box scores of his",
    )


class AvailabilityReported(Message):
    """Who is out, or may be, for one team in one game, as the source last said it (key: the
    game key, so both teams of a game stay in order). The latest message per (game, team) is
    the team's list; an empty list says the source names nobody."""

    kind: Literal["availability"] = Field(default="availability", description="Discriminator")
    source: str = Field(
        description="files: the stand-in derived from the box scores (docs/ARCHITECTURE.md, "
        "'Availability'); nba_injury_report: the NBA's official report",
        examples=["files"],
    )
    season: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2023-24"])
    season_type: SeasonType
    game_id: str | None = Field(default=None, description="NBA GAME_ID when the source has it")
    game_key: str = Field(description="'<date>:<away>@<home>'", examples=["2024-03-18:ATL@LAL"])
    game_date: dt.date
    team: TeamAbbr
    opponent: TeamAbbr
    absences: list[Absence] = Field(default_factory=list)


class PropLinePosted(Message):
    """A book's over/under line on a player's stat in a game, as the source last saw it (key:
    the player id, or `name:<normalised name>` for a name no box score has matched yet). The
    latest message per (odds event, player, stat, book) is that book's line."""

    kind: Literal["prop_line"] = Field(default="prop_line", description="Discriminator")
    source: str = Field(examples=["files", "the_odds_api"])
    odds_event_id: str = Field(description="The Odds API's event id", examples=["0fb83b1e"])
    game_date: dt.date = Field(description="US/Eastern date of tip-off")
    commence_time: dt.datetime | None = Field(default=None, description="Tip-off (UTC)")
    home: TeamAbbr
    away: TeamAbbr
    game_key: str = Field(examples=["2024-03-18:ATL@LAL"])
    player_name: str = Field(min_length=1, description="The book's spelling")
    player_id: int | None = Field(
        default=None,
        gt=0,
        description="Matched to the box scores' players; None when no "
        "player of either team has that name yet",
    )
    stat: Stat
    book: str = Field(description="The Odds API's bookmaker key", examples=["draftkings"])
    line: float = Field(ge=0, le=200, examples=[25.5])
    over_price: int = Field(description="American odds of the over", examples=[-115])
    under_price: int | None = Field(
        default=None, description="American odds of the under, when posted"
    )
    captured_at: dt.datetime | None = Field(
        default=None, description="When the book last changed it (its last_update)"
    )


class StatLine(BaseModel):
    """The stats a player recorded in one game (labels for training)."""

    model_config = ConfigDict(frozen=True)

    game_date: dt.date
    minutes: float = Field(ge=0)
    points: NonNegInt
    rebounds: NonNegInt
    assists: NonNegInt
    threes: NonNegInt | None = None
    steals: NonNegInt | None = None
    blocks: NonNegInt | None = None
    turnovers: NonNegInt | None = None


class GameRef(BaseModel):
    """The game a vector is for."""

    model_config = ConfigDict(frozen=True)

    game_date: dt.date
    season_type: SeasonType
    opponent: TeamAbbr
    is_home: bool


class FeaturesHeader(Message):
    """Everything a feature vector message says besides its values: the header of a packed
    vector on `nba.features.v2` (statmuse_shared.contract.vectors), which carries the values
    apart as float64 in the order of `feature_set_version`. See `FeaturesComputed`."""

    player_id: PlayerId
    player_name: str
    team: TeamAbbr
    season: str = Field(pattern=r"^\d{4}-\d{2}$")
    as_of: dt.date = Field(description="Nothing from this day on was used")
    kind: Literal["next", "game"] = Field(
        default="next",
        description="next: for the player's next game, whatever it is (history only); game: "
        "for the game in `game` (with its context, and its outcome once played)",
    )
    game: GameRef | None = Field(default=None, description="The game, for kind 'game'")
    feature_set_version: str = Field(
        description="Names the features and their order (docs/FEATURES.md)", examples=["fs-6"]
    )
    last_game: StatLine | None = Field(
        default=None, description="The latest game the vector knows of (None before a debut)"
    )
    outcome: StatLine | None = Field(
        default=None, description="For kind 'game' once played: what happened (the label)"
    )


class FeaturesComputed(FeaturesHeader):
    """A player's pre-game feature vector, knowing only what happened before `as_of`.

    kind "next": after a game, for the player's next (not yet known) game: history features
    only, the game-context ones are None; what the predictor serves. kind "game": for a known
    game (date, opponent, home/away), with its context; once the game is played it carries the
    result in `outcome`, which makes it a training example. Never use `outcome` as a feature.

    On the wire (`nba.features.v2`) it travels packed: its header, then its values
    (statmuse_shared.contract.vectors). A subclass of its header, so the two cannot drift.
    """

    features: dict[str, float | None] = Field(
        description="Named features (docs/FEATURES.md); None where history is too short or "
        "the context is unknown, never a silent 0",
        examples=[{"points_sma_10": 25.4, "points_n_10": 10, "opp_def_rating": 112.3}],
    )
    # The packed values (statmuse_shared.features.pack) of the `features` dict they were
    # packed from, when whoever built the message packed them already: the features service
    # packs a vector once, for its event id, and stores and publishes those same bytes. Tied
    # to that dict object, so a copy with other features never reuses them; not part of the
    # message (equality ignores it).
    _packed: tuple[dict[str, float | None], bytes] | None = PrivateAttr(default=None)

    def remember_packed(self, values: bytes) -> None:
        """`values` are `features` packed: reused by `packed`. The dict must not change."""
        self._packed = (self.features, values)

    def packed(self) -> bytes | None:
        """The packed values remembered for the current `features` dict, if any."""
        known = self._packed
        return known[1] if known is not None and known[0] is self.features else None

    def __eq__(self, other: object) -> bool:
        # The fields only: whether the values were packed already changes nothing.
        if not isinstance(other, FeaturesComputed):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as every message model here


class ModelMetrics(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    mae: float | None = None
    rmse: float | None = None
    n_train: int | None = None
    n_validation: int | None = None


class ModelTracking(BaseModel):
    """Where a model version's training run and registry entry live in MLflow."""

    model_config = ConfigDict(frozen=True)

    run_id: str | None = Field(default=None, description="The MLflow run that made it")
    experiment_id: str | None = Field(default=None, description="The run's MLflow experiment")
    registered_model: str = Field(
        description="The MLflow registered model (one per serving key)",
        examples=["statmuse-points"],
    )
    registry_version: int = Field(ge=1, description="The MLflow model version number")


class ModelPublished(Message):
    """A model version was registered or moved to an alias."""

    name: str = Field(examples=["points-baseline"])
    version: str = Field(examples=["v2026-11-25-points-baseline"])
    stat: Stat
    player_id: int | None = Field(default=None, description="Set for a per-player model")
    alias: Literal["production", "staging", "archived"]
    model_type: str = Field(examples=["rolling_mean"])
    artifact_uri: str = Field(examples=["file:///var/lib/statmuse/artifacts/points/abc.json"])
    checksum: str = Field(description="sha256 of the artifact bytes")
    feature_set_version: str
    dataset_version: str | None = None
    metrics: ModelMetrics = Field(default_factory=ModelMetrics)
    tracking: ModelTracking | None = Field(
        default=None, description="Its MLflow run and registry version (None: not tracked)"
    )
    mode: Literal["canary", "shadow"] | None = Field(
        default=None,
        description="A staged version pinned by an admin: a canary serves `share` of the "
        "(player, date) pairs, a shadow none (priced beside production for the A/B test only); "
        "None: the service's own A/B share decides",
    )
    share: float | None = Field(
        default=None, ge=0, le=1, description="The pinned version's share of traffic"
    )

    @property
    def key(self) -> str:
        return self.stat.value if self.player_id is None else f"{self.stat.value}:{self.player_id}"


class LineProbability(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: float
    over_probability: Probability
    under_probability: Probability
    push_probability: Probability


class DistributionSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    family: str = Field(examples=["normal", "poisson"])
    mean: float
    sd: float = Field(ge=0)
    quantiles: dict[str, float] = Field(
        description="q05, q25, q50, q75, q95", examples=[{"q50": 24.0}]
    )


class ArmQuote(BaseModel):
    """During an A/B test, the arm that did not serve a prediction, priced at the same lines:
    never shown to anyone, kept so the test compares both arms on the same props."""

    model_config = ConfigDict(frozen=True)

    arm: Literal["production", "challenger"]
    model_version: str
    predicted_value: float
    lines: list[LineProbability] = Field(description="P(over/under/push) at the served lines")


class PredictionMade(Message):
    """A prediction for a player's next game."""

    player_id: PlayerId
    player_name: str
    stat: Stat
    as_of: dt.date
    predicted_value: float
    distribution: DistributionSummary
    lines: list[LineProbability] = Field(description="P(over/under/push) at nearby lines")
    model_name: str
    model_version: str
    arm: Literal["production", "challenger"] | None = Field(
        default=None,
        description="The A/B arm whose model made it; None while no A/B test runs for the stat",
    )
    other_arm: ArmQuote | None = Field(
        default=None, description="The other A/B arm on the same prop (never served)"
    )


class ArmScore(BaseModel):
    """One A/B arm on the settled props of its test."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=0, description="Settled props (pushes and voids left out)")
    brier: float
    log_loss: float
    picks: int = Field(ge=0, description="Props where it leaned one way (P(over) not 0.5)")
    hit_rate: float | None = Field(description="Share of its picks that won, at even money")
    books_n: int = Field(ge=0, description="Props a book had a line for")
    brier_vs_books: float | None = Field(
        description="Its Brier minus the books' on the props with a line (negative: better)"
    )


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    estimate: float
    low: float
    high: float


class AbLook(BaseModel):
    """The test as it read after one settle day: the Brier difference's confidence sequence."""

    model_config = ConfigDict(frozen=True)

    day: dt.date
    n: int = Field(ge=0, description="Settled pairs up to that day")
    estimate: float
    low: float
    high: float


class AbBooksReading(BaseModel):
    """The same test read on the books' posted lines: both arms priced at each line with the
    books' median price (what a user would be told there), the books' own de-vigged P(over)
    beside them; the same sequential rule decides."""

    model_config = ConfigDict(frozen=True)

    verdict: Literal["keep running", "challenger better", "challenger worse", "no difference"]
    decided_on: dt.date | None
    first_day: dt.date
    last_day: dt.date
    production: ArmScore
    challenger: ArmScore
    brier_difference: Interval = Field(description="Challenger minus production: < 0 is better")


class AbTestReported(Message):
    """Where an A/B test of a stat's challenger against production stands: both arms on the
    same settled props, the challenger-minus-production Brier difference with an always-valid
    confidence sequence (looking every day does not raise the error rate), and the verdict
    of the first day that reached one. Again after each day settles."""

    stat: Stat
    production_version: str
    challenger_version: str
    verdict: Literal["keep running", "challenger better", "challenger worse", "no difference"]
    decided_on: dt.date | None = Field(description="The settle day that reached the verdict")
    first_day: dt.date
    last_day: dt.date
    alpha: float = Field(gt=0, lt=1, description="The error rate the sequence holds")
    margin: float = Field(ge=0, description="Brier gap called 'no difference'")
    min_pairs: int = Field(ge=0, description="Pairs before any verdict")
    production: ArmScore
    challenger: ArmScore
    brier_difference: Interval = Field(description="Challenger minus production: < 0 is better")
    log_loss_difference: Interval
    looks: list[AbLook] = Field(description="Every settle day's reading, for the chart")
    at_books_lines: AbBooksReading | None = Field(
        default=None,
        description="The test on the books' posted lines, with the books beside both arms "
        "(None: no posted line of the stat settled during the test)",
    )


class BookPrice(BaseModel):
    """One book's prices for a priced prop line, and what each side is worth at them."""

    model_config = ConfigDict(frozen=True)

    book: str = Field(description="The Odds API's bookmaker key", examples=["draftkings"])
    over_price: int = Field(description="American odds of the over", examples=[-115])
    under_price: int | None = Field(default=None, description="American odds of the under")
    books_over_probability: Probability | None = Field(
        default=None, description="This book's de-vigged P(over); None without an under price"
    )
    expected_value_over: float = Field(description="EV per unit of the over at this price")
    expected_value_under: float | None = None
    over_outlier: bool = Field(
        default=False,
        description="The over price is more generous than the other books' median by more "
        "than the tolerance (implied probability 0.05): likely stale, never the best price",
    )
    under_outlier: bool = False


class BestPrice(BaseModel):
    model_config = ConfigDict(frozen=True)

    book: str
    side: Literal["over", "under"]
    price: int = Field(description="American odds")
    expected_value: float = Field(description="EV per unit staked at this price")


class PropPriced(Message):
    """A posted prop line of an upcoming game, priced by the model serving its stat: our
    P(over) at the line, every book's price with its EV, the books' own (de-vigged) view, and
    the best price that is not an outlier. Again whenever the line, the prices, the player's
    pre-game vector or the model change."""

    game_key: str = Field(examples=["2024-03-18:ATL@LAL"])
    game_date: dt.date
    player_id: PlayerId
    player_name: str
    team: TeamAbbr | None = Field(default=None, description="The player's team in this game")
    opponent: TeamAbbr | None = None
    is_home: bool | None = None
    stat: Stat
    line: float = Field(ge=0, examples=[25.5])
    stat_lines: list[float] = Field(
        default_factory=list,
        description="Every line the books post now for this player's stat in this game: a "
        "consumer drops its props of the stat at other lines (a line that moved)",
    )
    as_of: dt.date = Field(description="The pre-game vector's date: nothing from it on used")
    data_as_of: dt.date | None = Field(
        default=None, description="The player's last game in the data"
    )
    over_probability: Probability
    under_probability: Probability
    push_probability: Probability
    model_over_probability: Probability = Field(description="The model's own view, no line")
    line_weight: float | None = Field(
        default=None, description="How much the line counts in the served P(over)"
    )
    books: list[BookPrice] = Field(min_length=1)
    books_over_probability: Probability | None = Field(
        default=None, description="The books' median de-vigged P(over) at this line"
    )
    edge: float | None = Field(
        default=None,
        description="Our P(over | decided) minus the books' de-vigged P(over)",
    )
    consensus_over: int | None = Field(default=None, description="Median over price")
    consensus_under: int | None = Field(default=None, description="Median under price")
    best: BestPrice | None = Field(
        default=None, description="The best EV among the prices that are not outliers"
    )
    recommendation: Literal["OVER", "UNDER", "PASS"] = Field(
        description="The best price's side when its EV is at least 2%, else PASS"
    )
    model_name: str
    model_version: str
    ab_arms: list[ArmQuote] = Field(
        default_factory=list,
        description="During an A/B test of the stat (a staged or pinned version): both arms "
        "priced at this line and the books' median price, production first, for settling "
        "the test against the books; empty otherwise",
    )


class TrainRequested(Message):
    """Command: (re)train a stat, or one player's model for it."""

    stat: Stat
    player_id: int | None = None
    model_kind: str = Field(default="baseline", examples=["baseline", "pooled", "per_player"])
    reason: str = Field(examples=["schedule", "drift", "admin"])
    requested_by: str = Field(default="system")
    promote: bool = Field(default=True, description="Promote to production when it trains")


class ModelAliasRequested(Message):
    """Command: move a serving key's aliases. `promote` makes the staged version production;
    `rollback` restores the version that was production before the current one; `pin` serves
    a given `version` beside production, as a canary (a `share` of the (player, date) pairs)
    or as a shadow (priced beside every prediction for the A/B test, never served); `unpin`
    ends it. The trainer carries it out and publishes `ModelPublished`; a move it cannot make
    (nothing staged, nothing to roll back to, no such version) is answered on the dead-letter
    topic with the reason."""

    action: Literal["promote", "rollback", "pin", "unpin"] = Field(
        description="Which alias move to make", examples=["promote", "rollback", "pin"]
    )
    version: str | None = Field(
        default=None,
        max_length=200,
        description="pin: the registered version to serve",
        examples=["v2026-12-07-points-voting"],
    )
    mode: Literal["canary", "shadow"] | None = Field(
        default=None, description="pin: served to a share of traffic, or only logged"
    )
    share: float | None = Field(
        default=None, ge=0, le=1, description="pin as canary: the share of (player, date) pairs"
    )
    key: str = Field(
        pattern=r"^[a-z0-9_]+(:[1-9][0-9]*)?$",
        description="Serving key: a stat, or '<stat>:<player_id>' for a per-player model",
        examples=["points", "points:2544"],
    )
    requested_by: str = Field(
        default="system",
        max_length=200,
        description="Who asked ('apikey:<key id>' from the gateway's admin endpoints)",
        examples=["apikey:3f9c2a7d1b0e4c58", "system"],
    )


class DeadLetter(BaseModel):
    """A message a consumer could not process, with the error and the original bytes."""

    model_config = ConfigDict(frozen=True)

    original_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = Field(default=None, description="Original key, utf-8 with replacement")
    payload_b64: str = Field(description="Original value bytes, base64")
    error: str
    consumer: str = Field(description="The consumer group that failed it")
    failed_at: dt.datetime = Field(default_factory=_now)
