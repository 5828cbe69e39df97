"""The OpenAPI document the TypeScript client's types are generated from
(clients/typescript/openapi.json) is the one the gateway serves: change the API, and this
fails until `cd clients/typescript && npm run generate` is run and committed."""

import json
from pathlib import Path

from typer.testing import CliRunner

from statmuse_gateway.app import create_app
from statmuse_gateway.cli import app as gateway_cli
from statmuse_gateway.settings import GatewaySettings

COMMITTED = Path(__file__).resolve().parents[4] / "clients" / "typescript" / "openapi.json"


def test_the_committed_document_is_the_served_one():
    served = create_app(GatewaySettings(database_url="postgresql://x")).openapi()
    assert json.loads(COMMITTED.read_text()) == served, (
        "the API changed: cd clients/typescript && npm run generate"
    )


def test_the_cli_writes_it(tmp_path):
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(gateway_cli, ["openapi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == COMMITTED.read_text()
