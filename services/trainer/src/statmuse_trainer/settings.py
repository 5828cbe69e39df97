from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from statmuse_shared.platform.settings import BaseServiceSettings


class TrainerSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", populate_by_name=True, frozen=True)

    http_port: int = 8103
    # The model registry and training-run tracking (docs/ARCHITECTURE.md, "Model registry").
    mlflow_tracking_uri: str = Field(
        default="http://127.0.0.1:5000",
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
        description="MLFLOW_TRACKING_URI: the MLflow tracking server (or store URI) that "
        "holds the training runs and the model registry",
    )
    mlflow_artifact_location: str | None = Field(
        default=None,
        description="TRAINER_MLFLOW_ARTIFACT_LOCATION: where a new experiment keeps its runs' "
        "artifacts; unset: the server's default (its proxied artifact store)",
    )
    group_id: str = "trainer"
    train_seasons: tuple[str, ...] = ()  # empty: every season the trainer has seen
    min_games: int = 3
    # The split of a full (pooled) retrain on request, as `statmuse train` uses by default.
    pooled_train_seasons: tuple[str, ...] = ("2017-18", "2018-19", "2019-20", "2020-21", "2021-22")
    pooled_validation_seasons: tuple[str, ...] = ("2022-23",)
    pooled_test_seasons: tuple[str, ...] = ("2023-24",)
    pooled_jobs: int = Field(default=1, ge=1, description="Worker threads of a pooled retrain")

    # Monitoring and scheduled retraining (docs/MONITORING.md). Times are US/Eastern, after
    # the ingestor's daily ingest at 06:00.
    schedule_enabled: bool = Field(
        default=False,
        description="Run the daily monitor + retrain requests and the weekly full retrain "
        "request in the service (one replica at a time, by advisory lock)",
    )
    daily_hour: int = Field(default=7, ge=0, le=23)
    daily_minute: int = Field(default=0, ge=0, le=59)
    weekly_weekday: int = Field(default=6, ge=0, le=6, description="0 Monday .. 6 Sunday")
    weekly_hour: int = Field(default=8, ge=0, le=23)
    request_player_retrains: bool = Field(
        default=True,
        description="Daily, when players have new games: a per_player TrainRequested per stat "
        "(answered by the stat's full retrain, which refits every player's head)",
    )
    retrain_model_kind: str = Field(
        default="pooled",
        description="model_kind of scheduled and drift requests (pooled: the full model, "
        "candidates, ensembles, per-player heads and calibration, as `statmuse train`)",
    )
    retrain_promote: bool = Field(
        default=False,
        description="Whether automatic requests ask for promotion; off: retrained models are "
        "staged for review instead of replacing production unseen",
    )
    monitor_recent_days: int = Field(default=14, ge=1, description="Drift: the recent window")
    monitor_prediction_reference_days: int = Field(
        default=28, ge=1, description="Prediction drift: the window before the recent one"
    )
    monitor_reference_rows: int = Field(
        default=20000, ge=100, description="Drift: most training rows sampled as reference"
    )
    drift_psi_threshold: float = Field(default=0.2, gt=0)
    drift_ks_alpha: float = Field(default=0.01, gt=0, lt=1)
    drift_ks_min_statistic: float = Field(default=0.1, ge=0, le=1)
    drift_min_features: int = Field(default=3, ge=1)
    drift_min_samples: int = Field(default=200, ge=2)
    drift_cooldown_hours: float = Field(
        default=24.0, ge=0, description="No second drift TrainRequested for a stat within this"
    )
