"""The TypeScript client (clients/typescript) against a real gateway: its committed types are
the live OpenAPI document's (a changed API fails here until they are regenerated), it builds
with tsc, and its tests pass with Node's test runner, the live ones against this gateway."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway(module_gateway: str) -> str:
    """One gateway for the module: these tests only read from it."""
    return module_gateway


CLIENT = REPO / "clients" / "typescript"
NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        NODE is None or NPM is None,
        reason="node and npm are missing (.ci/run installs them from Debian)",
    ),
]
REGENERATE = "regenerate them: cd clients/typescript && npm run generate"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=CLIENT, capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built() -> None:
    assert NPM is not None
    if not (CLIENT / "node_modules" / ".bin" / "tsc").exists():
        run(NPM, "ci", "--no-audit", "--no-fund")  # the locked versions
    run(NPM, "run", "build")


def test_the_committed_types_are_the_live_openapi_documents(gateway, built, tmp_path):
    live = httpx.get(f"{gateway}/openapi.json", timeout=10).json()
    committed = json.loads((CLIENT / "openapi.json").read_text())
    assert live == committed, f"the gateway's API changed: {REGENERATE}"
    (tmp_path / "openapi.json").write_text(json.dumps(live))
    run(
        str(CLIENT / "node_modules" / ".bin" / "openapi-typescript"),
        str(tmp_path / "openapi.json"),
        "--output",
        str(tmp_path / "schema.d.ts"),
    )
    fresh = (tmp_path / "schema.d.ts").read_text()
    assert fresh == (CLIENT / "src" / "schema.d.ts").read_text(), f"stale types: {REGENERATE}"


def test_the_client_passes_its_tests_against_the_gateway(gateway, built):
    assert NPM is not None
    done = run(NPM, "test", env={**os.environ, "GATEWAY_URL": gateway})
    assert "# fail 0" in done.stdout, done.stdout
    assert "# skipped 0" in done.stdout, done.stdout  # the live tests ran
