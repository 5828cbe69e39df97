"""Every service image: multi-stage with uv, non-root, a HEALTHCHECK on the port it serves, only
ENV names its settings read; the trainer's closure has xgboost-cpu and no CUDA wheels."""

import pytest
from deploylib.common import ROOT, SERVICES
from deploylib.dockerfile import dockerfile_problems, parse_dockerfile
from deploylib.lock import lock_closure


@pytest.mark.parametrize("service", SERVICES)
def test_service_dockerfile(service: str) -> None:
    text = (ROOT / f"services/{service}/Dockerfile").read_text()
    assert dockerfile_problems(service, text) == []


def test_ops_dockerfile_is_a_non_root_job_image() -> None:
    stages = parse_dockerfile((ROOT / "ops/Dockerfile").read_text())
    assert len(stages) >= 2
    final = stages[-1]
    users = [i.args for i in final if i.cmd == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert [i.args for i in final if i.cmd == "CMD"][-1] == '["statmuse", "migrate"]'


@pytest.mark.parametrize("service", SERVICES)
def test_images_install_no_gpu_builds(service: str) -> None:
    closure = lock_closure(f"statmuse-{service}")
    assert "xgboost" not in closure, "use xgboost-cpu: the same module without CUDA"
    assert not [p for p in closure if p.startswith("nvidia-")]


def test_trainer_installs_xgboost_cpu() -> None:
    assert "xgboost-cpu" in lock_closure("statmuse-trainer")


# The checks can fail: a broken copy of a real Dockerfile is caught.
BROKEN = {
    "no HEALTHCHECK": lambda t: "\n".join(
        line for line in t.splitlines() if not line.startswith(("HEALTHCHECK", '    CMD ["python"'))
    ),
    "runs as root": lambda t: t.replace("USER statmuse", "USER root"),
    "single stage": lambda t: t[t.rindex("FROM ") :],
    "wrong port": lambda t: t.replace("127.0.0.1:8000/health", "127.0.0.1:8080/health"),
    "misspelt setting": lambda t: t.replace("GATEWAY_HTTP_PORT=8000", "GATEWAY_HTTP_PROT=8000"),
    "unfrozen sync": lambda t: t.replace("uv sync --frozen", "uv sync"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_dockerfile_is_caught(broken: str) -> None:
    text = (ROOT / "services/gateway/Dockerfile").read_text()
    mutated = BROKEN[broken](text)
    assert mutated != text
    assert dockerfile_problems("gateway", mutated)
