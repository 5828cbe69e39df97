from pydantic_settings import SettingsConfigDict

from statmuse_shared.platform.settings import BaseServiceSettings


class FeaturesSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FEATURES_", populate_by_name=True, frozen=True)

    http_port: int = 8102
    group_id: str = "features"
    # Raw games per batch at most (a backlog comes in batches this big; live, a day is one
    # small batch). Bigger batches mean fewer round trips per game here and bigger batches of
    # vectors downstream, where the predictor keeps only a player's newest: seven seasons took
    # 180 s with 500, 148 s with 2,000, 138 s with 5,000 (docs/BENCHMARKS.md).
    max_batch: int = 2000
    reconcile_idle_s: float = 1.0  # recompute stale vectors once no batch came for this long
    # Pre-game vectors only for games this close to the last day played: a backlog being
    # consumed (last day played far behind the schedule) does not recompute them for every
    # batch. The longest break in a season (All-Star) is about a week.
    pregame_horizon_days: int = 10
