"""The AsyncAPI document is generated from the services' own routers, covers every topic and
its dead letters with the payload schemas the services use, is committed up to date, and the
gateway serves it."""

import json
import subprocess
import sys

from fastapi import FastAPI
from fastapi.testclient import TestClient

from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.asyncapi import generate, payload_names, render, stored


def addresses(document: dict) -> set[str]:
    return {c["address"] for c in document["channels"].values()}


def test_every_topic_and_its_dead_letters_are_documented():
    document = generate()
    assert document["asyncapi"].startswith("3.")
    assert addresses(document) == set(topics.all_with_dead_letters())


def test_each_topic_has_its_producer_and_its_consumers():
    channels = set(generate()["channels"])
    # Who writes each topic: a publisher named <topic>:<service>.
    for topic, producer in [
        (topics.GAMES_RAW, "ingestor"),
        (topics.FEATURES, "features"),
        (topics.MODELS_PUBLISHED, "trainer"),
        (topics.PREDICTIONS, "predictor"),
        (topics.TRAIN_REQUESTS, "trainer"),
        (topics.MODEL_COMMANDS, "gateway"),
    ]:
        assert f"{topic}:{producer}" in channels, topic
    # Who reads it: a subscriber named <group>:<topic>.
    for group, topic in [
        ("features", topics.GAMES_RAW),
        ("gateway-games", topics.GAMES_RAW),
        ("predictor", topics.FEATURES),
        ("trainer", topics.FEATURES),
        ("gateway", topics.FEATURES),
        ("predictor-models", topics.MODELS_PUBLISHED),
        ("gateway-models", topics.MODELS_PUBLISHED),
        ("trainer-commands", topics.TRAIN_REQUESTS),
        ("trainer-model-commands", topics.MODEL_COMMANDS),
        ("trainer-monitor", topics.PREDICTIONS),
    ]:
        assert f"{group}:{topic}" in channels, (group, topic)


def test_the_prediction_schema_is_the_message_model():
    document = generate()
    assert {"PredictionMade", "FeaturesComputed", "ModelPublished", "DeadLetter"} <= (
        payload_names(document)
    )
    prediction = document["components"]["schemas"]["PredictionMade"]
    for field in ("player_id", "stat", "lines", "model_version", "predicted_value"):
        assert field in prediction["properties"], field


def test_the_vector_topic_documents_its_header_and_its_binary_layout():
    document = generate()
    channels, messages = document["channels"], document["components"]["messages"]
    published = channels[f"{topics.FEATURES}:features"]
    assert vectors.LAYOUT in published["description"]
    [message] = published["messages"].values()
    payload = messages[message["$ref"].rsplit("/", 1)[-1]]["payload"]
    assert payload == {"$ref": "#/components/schemas/FeaturesHeader"}
    header = document["components"]["schemas"]["FeaturesHeader"]
    assert "features" not in header["properties"]
    assert {"player_id", "as_of", "kind", "feature_set_version", "outcome"} <= set(
        header["properties"]
    )
    for group in ("predictor", "trainer", "gateway"):
        assert channels[f"{group}:{topics.FEATURES}"]["description"].startswith(vectors.DECODED)
    assert vectors.CONTENT_TYPE in document["info"]["description"]


def test_the_committed_document_is_the_generated_one():
    assert render(stored()) == render(generate()), "stale: run `make asyncapi`"
    check = subprocess.run(
        [sys.executable, "-m", "statmuse_shared.contract.asyncapi", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_gateway_serves_it():
    from statmuse_gateway.routes import asyncapi, docs

    app = FastAPI()
    app.include_router(docs.router)
    app.include_router(asyncapi.router)
    client = TestClient(app)
    body = client.get("/docs/asyncapi.json")
    assert body.status_code == 200
    assert body.json() == json.loads(render(stored()))
    assert topics.PREDICTIONS in addresses(body.json())
    # The viewer page loads the document from there (its script fetches it).
    page = client.get("/docs/asyncapi")
    assert page.status_code == 200
    assert 'data-document-url="/docs/asyncapi.json"' in page.text
    assert client.get("/docs/static/asyncapi.js").status_code == 200
