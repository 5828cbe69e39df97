import datetime as dt
import json

import pytest
from pydantic import TypeAdapter, ValidationError

from statmuse_shared.contract.messages import (
    SCHEMA_VERSION,
    ModelPublished,
    PlayerGameIngested,
    RawGame,
    TeamGameIngested,
)
from statmuse_shared.contract.stats import Stat


def test_player_game_round_trips_through_json(lebron_game: PlayerGameIngested) -> None:
    raw = lebron_game.model_dump_json()
    back = PlayerGameIngested.model_validate_json(raw)
    assert back == lebron_game
    assert json.loads(raw)["game_date"] == "2023-10-24"
    assert back.schema_version == SCHEMA_VERSION == 1
    assert back.kind == "player_game"


def test_raw_game_union_tells_player_from_team(lebron_game: PlayerGameIngested) -> None:
    adapter = TypeAdapter(RawGame)
    team = TeamGameIngested(
        event_id="t",
        source="files",
        season="2023-24",
        season_type="Regular Season",
        game_key="2023-10-24:LAL@DEN",
        game_date=dt.date(2023, 10, 24),
        team="DEN",
        opponent="LAL",
        is_home=True,
        points=119,
    )
    assert isinstance(adapter.validate_json(lebron_game.model_dump_json()), PlayerGameIngested)
    assert adapter.validate_json(team.model_dump_json()) == team


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points", -1),
        ("rebounds", -2),
        ("fg3m", -1),
        ("team", "Lakers"),
        ("season", "2023-2024"),
        ("minutes", 71.0),
        ("player_id", 0),
        ("season_type", "Preseason"),
    ],
)
def test_invalid_values_are_rejected(
    lebron_game: PlayerGameIngested, field: str, value: object
) -> None:
    payload = lebron_game.model_dump() | {field: value}
    with pytest.raises(ValidationError) as info:
        PlayerGameIngested.model_validate(payload)
    assert info.value.errors()[0]["loc"][0] == field


def test_messages_are_frozen(lebron_game: PlayerGameIngested) -> None:
    with pytest.raises(ValidationError):
        lebron_game.points = 40  # type: ignore[misc]


def test_model_published_key() -> None:
    common = {
        "event_id": "e",
        "name": "points-baseline",
        "version": "v1",
        "stat": Stat.POINTS,
        "alias": "production",
        "model_type": "rolling_mean",
        "artifact_uri": "mem://a",
        "checksum": "c",
        "feature_set_version": "fs-0.1",
    }
    assert ModelPublished.model_validate(common).key == "points"
    assert ModelPublished.model_validate(common | {"player_id": 2544}).key == "points:2544"
