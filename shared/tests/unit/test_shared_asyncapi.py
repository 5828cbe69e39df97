"""The AsyncAPI document covers every topic with the payload schema the services use."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from statmuse_shared.contract import topics
from statmuse_shared.contract.asyncapi import CATALOGUE, as_json, payload_names


def test_every_topic_and_its_dead_letters_are_documented():
    document = as_json()
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    for topic in topics.ALL:
        assert topic in CATALOGUE, f"{topic} has no entry in the AsyncAPI catalogue"
        assert topic in addresses
        assert topics.dead_letter(topic) in addresses


def test_the_prediction_schema_is_the_message_model():
    document = as_json()
    assert {"PredictionMade", "FeaturesComputed", "ModelPublished", "DeadLetter"} <= (
        payload_names(document)
    )
    prediction = document["components"]["schemas"]["PredictionMade"]
    for field in ("player_id", "stat", "lines", "model_version", "predicted_value"):
        assert field in prediction["properties"], field


def test_the_gateway_serves_it():
    from statmuse_gateway.routes import asyncapi

    app = FastAPI()
    app.include_router(asyncapi.router)
    client = TestClient(app)
    body = client.get("/docs/asyncapi.json")
    assert body.status_code == 200
    assert "nba.predictions.v1" in {c["address"] for c in body.json()["channels"].values()}
    page = client.get("/docs/asyncapi")
    assert page.status_code == 200
    assert "/docs/asyncapi.json" in page.text
