"""The repository's files, the services' settings and `${VAR}` substitution, which every other
module of deploylib compares against."""

import copy
import importlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from pydantic import AliasChoices, SecretStr

from statmuse_shared.platform.settings import BaseServiceSettings

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("ingestor", "features", "trainer", "predictor", "gateway")
DUMMY_DSN = "postgresql://statmuse:Tq7-dummy@postgres:5432/statmuse"


# --------------------------------------------------------------------------- loading


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_all(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def yaml_files() -> list[Path]:
    found = [ROOT / "docker-compose.yml"]
    for pattern in ("*.yml", "*.yaml"):
        found.extend((ROOT / "deploy").rglob(pattern))
    return sorted(found)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of `data` with the key at `path` removed (for the mutation tests)."""
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


# --------------------------------------------------------------------------- substitution


class MissingVariable(KeyError):
    """`${VAR:?}` (or `${VAR?}`) with VAR unset: compose and Docker both refuse."""


_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?)([-+?])([^}]*))?\}|\$(\w+)")


def substitute(text: str, env: Mapping[str, str]) -> str:
    """`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alternative}`, `${VAR:?error}` and their
    colon-less forms (which test "unset" where the colon tests "unset or empty"), `$$` for `$`:
    the rules docker compose and Dockerfiles share."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(5)
        colon, op, arg = m.group(2), m.group(3), m.group(4)
        value = env.get(name)
        unset = value is None or (colon == ":" and value == "")
        if op == "-":
            return arg if unset else str(value)
        if op == "+":
            return "" if unset else arg
        if op == "?" and unset:
            raise MissingVariable(f"{name}: {arg or 'is not allowed to be unset'}")
        return value or ""

    return _VAR.sub(sub, text)


# --------------------------------------------------------------------------- Kubernetes


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The manifests of one kind, by name."""
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def selects(selector: dict[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/NotIn) picks `labels`."""
    if not selector:
        return True
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
    return True


# --------------------------------------------------------------------------- settings


def settings_class(service: str) -> type[BaseServiceSettings]:
    module = importlib.import_module(f"statmuse_{service}.settings")
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, BaseServiceSettings)
        and v is not BaseServiceSettings
        and v.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__}: expected one Settings class, found {found}"
    return found[0]


@dataclass(frozen=True)
class Setting:
    field: str
    env: tuple[str, ...]  # the environment names pydantic-settings reads it from
    required: bool
    secret: bool


def settings_of(cls: type[BaseServiceSettings]) -> list[Setting]:
    """Every field and the environment names it is read from (alias choices, else prefix+name)."""
    prefix = env_prefix(cls)
    out = []
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names = tuple(c.upper() for c in alias.choices if isinstance(c, str) and c.isupper())
        elif isinstance(alias, str):
            names = (alias.upper(),)
        else:
            names = (f"{prefix}{name}".upper(),)
        out.append(
            Setting(
                name, names, field.is_required(), field.annotation in (SecretStr, SecretStr | None)
            )
        )
    return out


def env_prefix(cls: type[BaseServiceSettings]) -> str:
    return str(cls.model_config.get("env_prefix") or "")


def known_env(cls: type[BaseServiceSettings]) -> set[str]:
    return {n for s in settings_of(cls) for n in s.env}


def env_problems(
    where: str,
    cls: type[BaseServiceSettings],
    env: Mapping[str, str],
    *,
    allowed_extra: Iterable[str] = (),
) -> list[str]:
    """`env` must hold every required setting, name nothing the class does not read, and build a
    valid production Settings."""
    problems = []
    known = known_env(cls) | set(allowed_extra)
    for name in sorted(set(env) - known):
        problems.append(f"{where}: {name} is not a setting of {cls.__name__}")
    for s in settings_of(cls):
        if s.required and not any(n in env for n in s.env):
            problems.append(f"{where}: required setting {s.field} ({'/'.join(s.env)}) is missing")
    if not problems:
        with mock.patch.dict(os.environ, {k: env[k] for k in env if k in known}, clear=True):
            try:
                settings = cls()
            except Exception as exc:  # a wrong value: the service would not start
                problems.append(f"{where}: {cls.__name__} refuses this environment: {exc}")
            else:
                if settings.environment != "production":
                    problems.append(
                        f"{where}: STATMUSE_ENV is {settings.environment}, not production"
                    )
    return problems


def build_settings(cls: type[BaseServiceSettings], env: Mapping[str, str]) -> BaseServiceSettings:
    known = known_env(cls)
    with mock.patch.dict(os.environ, {k: v for k, v in env.items() if k in known}, clear=True):
        return cls()


def default_port(service: str) -> int:
    return int(settings_class(service).model_fields["http_port"].default)


def uses(service: str, attribute: str) -> bool:
    """Whether the service's code reads `settings.<attribute>` (e.g. redis_url)."""
    src = ROOT / "services" / service / "src"
    return any(attribute in p.read_text() for p in src.rglob("*.py") if p.name != "settings.py")


def artifact_dir(env: Mapping[str, str]) -> str:
    url = env["ARTIFACT_STORE_URL"]
    assert url.startswith("file://"), url
    return url.removeprefix("file://")
