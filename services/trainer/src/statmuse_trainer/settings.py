from pydantic_settings import SettingsConfigDict

from statmuse_shared.settings import BaseServiceSettings


class TrainerSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", populate_by_name=True, frozen=True)

    http_port: int = 8103
    group_id: str = "trainer"
    train_seasons: tuple[str, ...] = ()  # empty: every season the trainer has seen
    min_games: int = 3
