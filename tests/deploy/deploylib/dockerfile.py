"""The services' Dockerfiles: multi-stage with uv, non-root, a HEALTHCHECK on the port the
service serves, only ENV names its settings read, every COPY from the build context."""

import shlex
import tomllib
from dataclasses import dataclass

from deploylib.common import ROOT, default_port, known_env, settings_class

# Image ENV that is for the runtime, not for the service's settings.
RUNTIME_ENV = frozenset({"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "MPLCONFIGDIR"})


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Instruction:
    cmd: str
    args: str


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Stages of instructions (continuations joined, comments dropped)."""
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        cmd, _, args = line.partition(" ")
        ins = Instruction(cmd.upper(), args.strip())
        if ins.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def dockerfile_env(stage: list[Instruction]) -> dict[str, str]:
    env = {}
    for ins in stage:
        if ins.cmd == "ENV":
            parts = shlex.split(ins.args)
            if parts and "=" not in parts[0]:
                env[parts[0]] = " ".join(parts[1:])
            else:
                env.update(p.split("=", 1) for p in parts)  # type: ignore[misc]
    return env


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    first = path.strip("/").split("/")[0]
    return any(p.strip("/") in (first, path.strip("/")) for p in patterns)


def dockerfile_problems(service: str, text: str) -> list[str]:
    where = f"services/{service}/Dockerfile"
    stages = parse_dockerfile(text)
    problems = []
    if len(stages) < 2:
        return [f"{where}: not multi-stage ({len(stages)} stage)"]
    builder, final = stages[0], stages[-1]
    if " AS builder" not in builder[0].args.replace(" as ", " AS "):
        problems.append(f"{where}: the first stage is not named builder")
    if not any(i.cmd == "COPY" and "astral-sh/uv" in i.args for i in builder):
        problems.append(f"{where}: the builder does not take uv from ghcr.io/astral-sh/uv")
    syncs = [i.args for i in builder if i.cmd == "RUN" and "uv sync" in i.args]
    if not syncs or not all("--frozen" in s and "--no-dev" in s for s in syncs):
        problems.append(f"{where}: uv sync must be --frozen --no-dev (the lock decides)")
    if not any(f"--package statmuse-{service}" in s for s in syncs):
        problems.append(f"{where}: uv sync does not install statmuse-{service}")
    # Runtime: only the venv comes from the builder; non-root; a HEALTHCHECK on /health.
    users = [i.args.split(":")[0] for i in final if i.cmd == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append(f"{where}: the runtime stage does not end as a non-root USER")
    port = default_port(service)
    env = dockerfile_env(final)
    prefix = service.upper()
    if env.get(f"{prefix}_HTTP_PORT", str(port)) != str(port):
        problems.append(f"{where}: {prefix}_HTTP_PORT={env[f'{prefix}_HTTP_PORT']}, serves {port}")
    if env.get(f"{prefix}_HTTP_HOST") != "0.0.0.0":
        problems.append(f"{where}: {prefix}_HTTP_HOST must be 0.0.0.0 (probes come from outside)")
    if env.get("STATMUSE_ENV") != "production":
        problems.append(f"{where}: STATMUSE_ENV must default to production in an image")
    unknown = set(env) - known_env(settings_class(service)) - RUNTIME_ENV
    problems += [f"{where}: ENV {n} is not a setting of the service" for n in sorted(unknown)]
    checks = [i.args for i in final if i.cmd == "HEALTHCHECK"]
    if not checks or checks[-1].strip().upper() == "NONE":
        problems.append(f"{where}: no HEALTHCHECK")
    elif f"127.0.0.1:{port}/health" not in checks[-1]:
        problems.append(f"{where}: HEALTHCHECK does not GET /health on port {port}")
    if not any(i.cmd == "EXPOSE" and i.args.split()[0] == str(port) for i in final):
        problems.append(f"{where}: EXPOSE {port} is missing")
    cmds = [i.args for i in final if i.cmd == "CMD"]
    scripts = tomllib.loads((ROOT / f"services/{service}/pyproject.toml").read_text())["project"][
        "scripts"
    ]
    if not cmds or cmds[-1] != f'["statmuse-{service}", "serve"]':
        problems.append(f"{where}: CMD is not statmuse-{service} serve")
    if f"statmuse-{service}" not in scripts:
        problems.append(f"{where}: statmuse-{service} is not a script of the package")
    for stage in stages:
        for ins in stage:
            if ins.cmd == "COPY" and not ins.args.startswith("--from"):
                *sources, _ = shlex.split(ins.args)
                for src in sources:
                    if not (ROOT / src).exists():
                        problems.append(f"{where}: COPY {src}: no such path in the build context")
                    elif dockerignored(src):
                        problems.append(f"{where}: COPY {src}: excluded by .dockerignore")
    return problems
