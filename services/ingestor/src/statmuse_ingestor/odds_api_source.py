"""Live prop lines: The Odds API (v4), the source the bundled `prop_lines` were collected from.

Two kinds of call, each paced, timed and retried by the shared client (`nba_api_client`):
`/sports/basketball_nba/events` lists the games to come, then
`/sports/basketball_nba/events/{id}/odds` gives each book's player-prop markets for one game.
Every over/under pair becomes one row in the bundled `prop_lines` columns (`lines_rows`), so
the files and the live source are validated by the same code. The API key is a setting
(INGESTOR_ODDS_API_KEY) and never appears in an error or a log line.
"""

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import requests

from statmuse_ingestor.nba_api_client import (
    NbaStatsClient,
    RequestHook,
    SourcePayloadError,
    requests_transport,
)
from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket
from statmuse_ingestor.rows import RawRow
from statmuse_shared.contract.seasons import season_of
from statmuse_shared.platform.scheduler import EASTERN

BASE_URL = "https://api.the-odds-api.com/v4"
SPORT = "basketball_nba"
# The API's market keys -> ours.
MARKETS = {
    "player_points": "points",
    "player_rebounds": "rebounds",
    "player_assists": "assists",
    "player_threes": "threes",
    "player_points_rebounds_assists": "pra",
    "player_steals": "steals",
    "player_blocks": "blocks",
    "player_turnovers": "turnovers",
    "player_points_rebounds": "pr",
    "player_points_assists": "pa",
    "player_rebounds_assists": "ra",
    "player_blocks_steals": "stocks",
}
# What is asked for by default: the markets the bundled lines have and the models are judged
# on. The API bills each market of each event, so the others (steals, blocks, turnovers and
# the sums of two) are asked for only when given (`markets=`); their rows map as above.
DEFAULT_MARKETS = (
    "player_points",
    "player_rebounds",
    "player_assists",
    "player_threes",
    "player_points_rebounds_assists",
)
DEFAULT_MIN_INTERVAL_S = 1.0


def _events(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
        raise SourcePayloadError(f"expected a JSON list of events, got {type(payload).__name__}")
    for number, event in enumerate(payload, start=1):
        missing = [k for k in ("id", "commence_time", "home_team", "away_team") if k not in event]
        if missing:
            raise SourcePayloadError(f"event {number} has no {', '.join(missing)}")
    return payload


def _event_odds(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("bookmakers"), list):
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise SourcePayloadError(f"event odds have no 'bookmakers' list (found {keys})")
    return payload


def eastern_date(commence_time: str) -> dt.date:
    """The US/Eastern date of a tip-off given in UTC ('2024-03-18T01:40:00Z' -> 03-17)."""
    when = dt.datetime.fromisoformat(commence_time.replace("Z", "+00:00"))
    return when.astimezone(EASTERN).date()


class TheOddsApiSource:
    """Prop lines of the NBA games to come, from every book in `regions`."""

    name = "the_odds_api"

    def __init__(
        self,
        *,
        api_key: str,
        regions: str = "us",
        markets: Sequence[str] = DEFAULT_MARKETS,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        bucket: TokenBucket | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        on_request: RequestHook | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not api_key:
            raise ValueError("The Odds API needs a key (INGESTOR_ODDS_API_KEY)")
        unknown = sorted(set(markets) - set(MARKETS))
        if unknown or not markets:
            raise ValueError(f"unknown Odds API markets {unknown}; known: {sorted(MARKETS)}")
        self._key = api_key
        self.regions = regions
        self.markets = tuple(markets)
        self.client = NbaStatsClient(
            bucket=bucket if bucket is not None else TokenBucket.every(min_interval_s),
            retry=retry if retry is not None else RetryPolicy(),
            timeout_s=timeout_s,
            on_request=on_request,
            transport=requests_transport(BASE_URL, session),
            sleep=sleep,
            clock=clock,
            source=self.name,
            secrets=(api_key,),
        )

    def lines_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """Every posted over/under of the season's games to come between the dates (US/Eastern
        days), one row per book, player, market and line. The API lists only games not yet
        started: past days are the files source's."""

        def rows() -> Iterator[RawRow]:
            events = self.client.fetch_payload(
                f"/sports/{SPORT}/events", {"apiKey": self._key, "dateFormat": "iso"}, _events
            )
            for event in events:
                day = eastern_date(event["commence_time"])
                if season_of(day) != season:
                    continue
                if (date_from and day < date_from) or (date_to and day > date_to):
                    continue
                odds = self.client.fetch_payload(
                    f"/sports/{SPORT}/events/{event['id']}/odds",
                    {
                        "apiKey": self._key,
                        "regions": self.regions,
                        "markets": ",".join(self.markets),
                        "oddsFormat": "american",
                        "dateFormat": "iso",
                    },
                    _event_odds,
                )
                yield from _rows(odds, day)

        return rows()


def _rows(odds: Mapping[str, Any], day: dt.date) -> Iterator[RawRow]:
    """One row per (book, market, player, line): the over's and the under's prices paired."""
    for book in odds["bookmakers"]:
        for market in book.get("markets") or []:
            ours = MARKETS.get(str(market.get("key")))
            if ours is None:
                continue
            updated = str(market.get("last_update") or book.get("last_update") or "")
            pairs: dict[tuple[str, str], dict[str, str]] = {}
            for outcome in market.get("outcomes") or []:
                side = str(outcome.get("name", "")).lower()
                player, point = str(outcome.get("description", "")), str(outcome.get("point", ""))
                if side not in ("over", "under"):
                    continue
                pair = pairs.setdefault(
                    (player, point),
                    {
                        "game_date": day.isoformat(),
                        "commence_time": str(odds.get("commence_time", "")),
                        "event_id": str(odds.get("id", "")),
                        "home_team": str(odds.get("home_team", "")),
                        "away_team": str(odds.get("away_team", "")),
                        "player_name": player,
                        "market": ours,
                        "bookmaker": str(book.get("key", "")),
                        "line": point,
                        "over_odds": "",
                        "under_odds": "",
                        "last_update": updated,
                    },
                )
                pair[f"{side}_odds"] = str(outcome.get("price", ""))
            location = f"the_odds_api:{odds.get('id')}:{book.get('key')}:{market.get('key')}"
            for number, record in enumerate(pairs.values(), start=1):
                yield RawRow(f"{location}:{number}", record)
