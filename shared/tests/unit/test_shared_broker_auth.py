"""Broker authentication from the settings: PLAINTEXT by default (the local stack), SASL with a
user per service when configured; refused when incomplete or a placeholder outside
development; the same credentials reach FastStream's consumers and producers and the admin
clients."""

import ssl

import pytest
from pydantic import ValidationError

from statmuse_shared.platform.broker import client_settings, make_broker
from statmuse_shared.platform.settings import BaseServiceSettings, KafkaAuth

DB = "postgresql://u:real-password@db:5432/x"


def settings(**env: str) -> BaseServiceSettings:
    return BaseServiceSettings(database_url=DB, **env)  # type: ignore[arg-type]


def test_plaintext_by_default():
    assert settings().kafka_auth is None
    assert client_settings(None) == {}  # aiokafka's defaults: PLAINTEXT


def test_sasl_settings_give_the_services_credentials():
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_username="gateway",
        kafka_password="a-long-random-password",
        environment="production",
    )
    auth = s.kafka_auth
    assert auth == KafkaAuth("SASL_SSL", "SCRAM-SHA-512", "gateway", "a-long-random-password")
    assert "a-long-random-password" not in repr(auth)  # never in a log line


@pytest.mark.parametrize(
    "env",
    [
        {"kafka_security_protocol": "SASL_PLAINTEXT"},
        {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_username": "gateway"},
        {"kafka_security_protocol": "SASL_SSL", "kafka_password": "x" * 20},
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_username": "gateway",
            "kafka_password": "changeme",
            "environment": "production",
        },
        {"kafka_security_protocol": "SSL"},
        {"kafka_sasl_mechanism": "GSSAPI"},
    ],
)
def test_incomplete_or_placeholder_credentials_are_refused(env):
    with pytest.raises(ValidationError):
        settings(**env)


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("SASL_PLAINTEXT", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SASL_SSL", "SCRAM-SHA-512"),
    ],
)
def test_the_credentials_reach_the_kafka_clients(protocol, mechanism):
    auth = KafkaAuth(protocol, mechanism, "predictor", "pw-123")
    admin = client_settings(auth)
    assert admin["security_protocol"] == protocol
    assert admin["sasl_mechanism"] == mechanism
    assert (admin["sasl_plain_username"], admin["sasl_plain_password"]) == ("predictor", "pw-123")
    assert isinstance(admin["ssl_context"], ssl.SSLContext) == (protocol == "SASL_SSL")
    # FastStream's consumers and producers are built with the same settings.
    built = make_broker("kafka:9092", client_id="predictor", auth=auth)
    kwargs = built.config.broker_config.builder.keywords
    assert kwargs["security_protocol"] == protocol
    assert kwargs["sasl_mechanism"] == mechanism
    assert kwargs["sasl_plain_username"] == "predictor"
    plain = make_broker("kafka:9092", client_id="predictor")
    assert plain.config.broker_config.builder.keywords.get("security_protocol", "PLAINTEXT") == (
        "PLAINTEXT"
    )


def test_a_private_ca_is_trusted(tmp_path):
    import subprocess

    key, cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=kafka-test-ca"],
        check=True, capture_output=True,
    )  # fmt: skip
    auth = KafkaAuth("SASL_SSL", "SCRAM-SHA-512", "trainer", "pw", str(cert))
    context = client_settings(auth)["ssl_context"]
    names = [c["subject"] for c in context.get_ca_certs()]
    assert any(("commonName", "kafka-test-ca") in rdn for s in names for rdn in s)
    with pytest.raises(FileNotFoundError):
        client_settings(KafkaAuth("SASL_SSL", "PLAIN", "x", "y", str(tmp_path / "none.crt")))
