"""In-memory stand-ins for the predictor's ports (see statmuse_predictor.ports)."""

import datetime as dt
from collections.abc import Sequence

from statmuse_predictor.ports import GameOf, Latest, Posted, Pregame
from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade, PropLinePosted
from statmuse_shared.contract.stats import Stat


class InMemoryPredictions:
    def __init__(self) -> None:
        self.latest_by_player: dict[int, Latest] = {}
        self.stored: dict[tuple[int, str, object, str], PredictionMade] = {}
        self.lines: dict[tuple[int, object, str, str], PropLinePosted] = {}
        self.pregame: dict[GameOf, Pregame] = {}

    async def keep_latest(self, vectors: Sequence[FeaturesComputed]) -> None:
        for v in vectors:
            known = self.latest_by_player.get(v.player_id)
            if known is None or known.as_of <= v.as_of:
                game_date = v.game.game_date if v.game is not None else None
                self.latest_by_player[v.player_id] = Latest(
                    v.player_id, v.player_name, v.as_of, game_date, dict(v.features)
                )

    async def latest(self) -> list[Latest]:
        return list(self.latest_by_player.values())

    async def store(self, made: Sequence[PredictionMade]) -> None:
        for p in made:
            self.stored.setdefault((p.player_id, p.stat.value, p.as_of, p.model_version), p)

    async def store_lines(self, lines: Sequence[PropLinePosted]) -> list[GameOf]:
        games: list[GameOf] = []
        for x in lines:
            if x.player_id is None:
                continue
            self.lines[(x.player_id, x.game_date, x.stat.value, x.book)] = x
            games.append((x.player_id, x.game_date))
        return list(dict.fromkeys(games))

    async def keep_pregame(self, vectors: Sequence[FeaturesComputed]) -> list[GameOf]:
        changed: list[GameOf] = []
        for v in vectors:
            if v.kind != "game" or v.game is None:
                continue
            at = (v.player_id, v.game.game_date)
            if v.outcome is not None:
                self.pregame.pop(at, None)
                changed = [g for g in changed if g != at]
                continue
            self.pregame[at] = Pregame(
                v.player_id,
                v.player_name,
                v.team,
                v.game.game_date,
                v.game.opponent,
                v.game.is_home,
                v.as_of,
                v.last_game.game_date if v.last_game is not None else None,
                dict(v.features),
            )
            changed.append(at)
        return list(dict.fromkeys(changed))

    async def slate(
        self, games: Sequence[GameOf] | None = None
    ) -> list[tuple[Pregame, list[Posted]]]:
        wanted = sorted(self.pregame) if games is None else list(dict.fromkeys(games))
        out = []
        for at in wanted:
            vector = self.pregame.get(at)
            posted = [
                Posted(x.game_key, x.stat, x.book, x.line, x.over_price, x.under_price)
                for (pid, day, _, _), x in sorted(self.lines.items(), key=lambda kv: kv[0][2:])
                if (pid, day) == at
            ]
            if vector is not None and posted:
                out.append((vector, posted))
        return out


def posted(
    pid: int | None,
    book: str,
    over: int,
    under: int | None = -110,
    *,
    day: dt.date,
    line: float = 19.5,
) -> PropLinePosted:
    """A book's points line for player `pid` in DEN at LAL on `day`, as the ingestor publishes
    it (`pid` None: a name that matched no player)."""
    return PropLinePosted(
        event_id=f"line-{pid}-{book}-{line}-{over}",
        source="files",
        odds_event_id="e1",
        game_date=day,
        home="LAL",
        away="DEN",
        game_key=f"{day}:DEN@LAL",
        player_name=f"Player {pid}",
        player_id=pid,
        stat=Stat.POINTS,
        book=book,
        line=line,
        over_price=over,
        under_price=under,
    )
