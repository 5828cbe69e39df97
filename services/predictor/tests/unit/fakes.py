"""In-memory stand-ins for the predictor's ports (see statmuse_predictor.ports)."""

from collections.abc import Sequence

from statmuse_predictor.ports import Latest
from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade


class InMemoryPredictions:
    def __init__(self) -> None:
        self.latest_by_player: dict[int, Latest] = {}
        self.stored: dict[tuple[int, str, object, str], PredictionMade] = {}

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
