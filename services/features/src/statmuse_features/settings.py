from pydantic_settings import SettingsConfigDict

from statmuse_shared.platform.settings import BaseServiceSettings


class FeaturesSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FEATURES_", populate_by_name=True, frozen=True)

    http_port: int = 8102
    group_id: str = "features"
    max_batch: int = 500
    reconcile_idle_s: float = 1.0  # recompute stale vectors once no batch came for this long
    # Pre-game vectors only for games this close to the last day played: a backlog being
    # consumed (last day played far behind the schedule) does not recompute them for every
    # batch. The longest break in a season (All-Star) is about a week.
    pregame_horizon_days: int = 10
