"""Box scores in the NBA stats API's game-log columns (the bundled `data/nba` files, the rows
`nba_api` returns) as the feature engine's inputs: for research and tests that compute
features straight from the files. The ingestor validates the same rows on the live path."""

import datetime as dt
from collections.abc import Iterable, Mapping

from statmuse_shared.features.player import PlayerGame
from statmuse_shared.features.teams import TeamGame, plays, possessions


def player_game(row: Mapping[str, str], season: str) -> PlayerGame:
    """One row of a player game log (MATCHUP "DEN vs. LAL" at home, "DEN @ LAL" away)."""
    team, sep, opponent = row["MATCHUP"].split(" ")
    return PlayerGame(
        dt.date.fromisoformat(row["GAME_DATE"]),
        season,
        row["SEASON_TYPE"],
        team,
        opponent,
        sep == "vs.",
        float(row["MIN"]),
        int(row["PTS"]),
        int(row["REB"]),
        int(row["AST"]),
        int(row["FG3M"]) if row["FG3M"] else None,
        steals=_count(row.get("STL")),
        blocks=_count(row.get("BLK")),
        fga=_count(row.get("FGA")),
        fta=_count(row.get("FTA")),
        turnovers=_count(row.get("TOV")),
    )


def _count(value: str | None) -> int | None:
    """A box-score count; None where the source left the column empty."""
    return int(float(value)) if value else None


def team_games(rows: Iterable[Mapping[str, str]], season: str) -> list[TeamGame]:
    """A season's team game log rows; points allowed are the opponent's row's points."""
    rows = list(rows)
    scored = {(r["GAME_ID"], r["TEAM_ABBREVIATION"]): int(r["PTS"]) for r in rows}
    return [
        TeamGame(
            dt.date.fromisoformat(r["GAME_DATE"]),
            season,
            r["TEAM_ABBREVIATION"],
            scored[(r["GAME_ID"], r["MATCHUP"].split()[2])],
            possessions(
                fga=int(r["FGA"]), oreb=int(r["OREB"]), tov=int(r["TOV"]), fta=int(r["FTA"])
            ),
            float(r["MIN"]),
            plays(fga=int(r["FGA"]), tov=int(r["TOV"]), fta=int(r["FTA"])),
        )
        for r in rows
    ]
