"""GET /api/models links each version to its MLflow run and model version (the Models page
draws the links), when MLFLOW_UI_URL says where the MLflow UI is."""

import datetime as dt

import httpx

from statmuse_gateway.app import create_app
from statmuse_gateway.routes.models import mlflow_links
from statmuse_shared.contract.messages import ModelPublished, ModelTracking
from statmuse_shared.contract.stats import Stat

from .fakes import fake_runtime, settings

TRACKED = ModelTracking(
    run_id="0a1b2c", experiment_id="3", registered_model="statmuse-points", registry_version=7
)


def published(tracking: ModelTracking | None) -> ModelPublished:
    return ModelPublished(
        event_id=f"e-{tracking is None}",
        name="points-voting",
        version=f"v2026-12-07-points-voting{'' if tracking else '-old'}",
        stat=Stat.POINTS,
        alias="production" if tracking else "archived",
        model_type="count_model",
        artifact_uri="file:///a/points.npz",
        checksum="0" * 64,
        feature_set_version="fs",
        tracking=tracking,
    )


def test_the_links_name_the_run_and_the_version():
    assert mlflow_links("https://mlflow.example.org/", TRACKED) == {
        "run_url": "https://mlflow.example.org/#/experiments/3/runs/0a1b2c",
        "registry_url": "https://mlflow.example.org/#/models/statmuse-points/versions/7",
    }
    # No UI configured, or a version announced before it was tracked: no links.
    assert mlflow_links(None, TRACKED) == {"run_url": None, "registry_url": None}
    assert mlflow_links("https://m", None) == {"run_url": None, "registry_url": None}
    untracked_run = TRACKED.model_copy(update={"run_id": None})
    assert mlflow_links("https://m", untracked_run)["run_url"] is None


async def test_the_models_endpoint_carries_the_links():
    config = settings(mlflow_ui_url="http://127.0.0.1:5000")
    rt = fake_runtime(config)
    for event in (published(TRACKED), published(None)):
        rt.read_model.models_stored[event.version] = (
            event,
            dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
        )
    app = create_app(config, runtime=rt)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        body = (await http.get("/api/models")).json()
    by_alias = {m["alias"]: m for m in body}
    assert by_alias["production"]["run_url"] == "http://127.0.0.1:5000/#/experiments/3/runs/0a1b2c"
    assert by_alias["production"]["registry_url"].endswith("/statmuse-points/versions/7")
    assert by_alias["archived"]["run_url"] is None
