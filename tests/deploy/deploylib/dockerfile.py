"""The Dockerfile, resolved into the image one set of build arguments makes.

One Dockerfile builds every image; docker-compose.yml's build arguments say which image
(SERVICE) and what its service needs. No Docker engine is needed: `resolve` follows BuildKit's
rules as far as the checks need them. The target is the last stage, and a FROM names a stage or
an image after the global ARGs are substituted. Build arguments reach a stage through its own
ARG lines and are substituted in FROM, ARG, ENV (keys and values), EXPOSE, USER, WORKDIR and
COPY, never in CMD or HEALTHCHECK; RUN sees them as environment variables. ENV, USER, EXPOSE,
CMD and HEALTHCHECK carry over from a stage to the stages built on it. A stage that the target
copies from (`COPY --from=<stage>`) is a builder: built, but not in the image.

One module, just over 400 lines: the resolver and the image it describes go together.
"""

import copy
import json
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from deploylib.common import (
    ROOT,
    MissingVariable,
    default_port,
    env_prefix,
    known_env,
    settings_class,
    substitute,
)
from deploylib.lock import locked_packages

DOCKERFILE = ROOT / "Dockerfile"
# Image ENV for the runtime, not for the service's settings.
RUNTIME_ENV = frozenset(
    {
        "PATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "MPLCONFIGDIR",
        "STATMUSE_HEALTHCHECK_URL",  # what the HEALTHCHECK probes (it takes no build argument)
    }
)


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Instruction:
    cmd: str
    args: str


@dataclass(frozen=True)
class Stage:
    name: str  # its alias in lower case (stage names are case-insensitive), else its index
    base: str  # what FROM names, as written
    body: tuple[Instruction, ...]


@dataclass(frozen=True)
class Dockerfile:
    global_args: tuple[Instruction, ...]  # the ARG lines before the first FROM
    stages: tuple[Stage, ...]


def instructions(text: str) -> list[Instruction]:
    """The instructions (continuations joined, comments dropped)."""
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    out = []
    for line in logical:
        cmd, _, args = line.partition(" ")
        out.append(Instruction(cmd.upper(), args.strip()))
    return out


def parse_dockerfile(text: str) -> Dockerfile:
    global_args: list[Instruction] = []
    stages: list[tuple[str, str, list[Instruction]]] = []
    for ins in instructions(text):
        if ins.cmd == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--platform")]
            name = words[2].lower() if len(words) == 3 and words[1].upper() == "AS" else ""
            stages.append((name or str(len(stages)), words[0], []))
        elif stages:
            stages[-1][2].append(ins)
        elif ins.cmd == "ARG":
            global_args.append(ins)
    return Dockerfile(tuple(global_args), tuple(Stage(n, b, tuple(i)) for n, b, i in stages))


def _arg_declarations(args: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for word in shlex.split(args):
        name, eq, default = word.partition("=")
        out.append((name, default if eq else None))
    return out


def _exec_form(args: str) -> list[str]:
    """CMD's or HEALTHCHECK CMD's JSON form; the shell form runs through /bin/sh -c."""
    if args.startswith("["):
        return [str(a) for a in json.loads(args)]
    return ["/bin/sh", "-c", args]


def _healthcheck(args: str) -> tuple[list[str], str]:
    """(the test as Docker stores it: NONE, or CMD / CMD-SHELL and the command; the options)."""
    if args.strip().upper() == "NONE":
        return ["NONE"], ""
    options, _, command = args.partition("CMD ")
    form = _exec_form(command.strip())
    if command.strip().startswith("["):
        return ["CMD", *form], options.strip()
    return ["CMD-SHELL", form[-1]], options.strip()


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Copy:
    stage: str
    sources: tuple[str, ...]
    dest: str
    source_stage: str | None  # --from=<stage>
    source_image: str | None  # --from=<image>


@dataclass(frozen=True)
class Run:
    stage: str
    command: str  # with the stage's build arguments and ENV substituted, as its shell would


@dataclass
class Image:
    """What `docker build` makes of the Dockerfile with some build arguments."""

    chain: list[str]  # the stages the image stands on, its base first, the target last
    base_image: str  # the image the first of them starts FROM
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    expose: list[str] = field(default_factory=list)
    cmd: list[str] | None = None
    healthcheck: list[str] | None = None
    healthcheck_options: str = ""
    copies: list[Copy] = field(default_factory=list)  # of every stage built
    runs: list[Run] = field(default_factory=list)  # of every stage built
    builders: list[str] = field(default_factory=list)  # stages built only to copy from

    def in_image(self, item: Copy | Run) -> bool:
        return item.stage in self.chain


class _Resolver:
    def __init__(self, dockerfile: Dockerfile, build_args: Mapping[str, str]) -> None:
        self.stages = {s.name: s for s in dockerfile.stages}
        self.build_args = dict(build_args)
        self.global_args: dict[str, str] = {}
        for ins in dockerfile.global_args:
            for name, default in _arg_declarations(ins.args):
                value = self.build_args.get(name, default)
                if value is not None:
                    self.global_args[name] = value
        self.done: dict[str, Image] = {}

    def stage_image(self, name: str) -> Image:
        if name in self.done:
            return self.done[name]
        stage = self.stages[name]
        base = substitute(stage.base, self.global_args)
        if not base:
            raise MissingVariable(f"{stage.base}: FROM names nothing")
        if base.lower() in self.stages:
            image = copy.deepcopy(self.stage_image(base.lower()))
            image.chain.append(name)
        else:
            image = Image([name], base)
        args: dict[str, str] = {}
        for ins in stage.body:
            self.apply(image, name, args, ins)
        self.done[name] = image
        return image

    def apply(self, image: Image, stage: str, args: dict[str, str], ins: Instruction) -> None:
        scope = {**args, **image.env}  # ENV wins over ARG of the same name
        if ins.cmd == "ARG":
            for name, default in _arg_declarations(ins.args):
                if name in self.build_args:
                    args[name] = self.build_args[name]
                elif default is not None:
                    args[name] = substitute(default, scope)
                elif name in self.global_args:
                    args[name] = self.global_args[name]
        elif ins.cmd == "ENV":
            words = shlex.split(ins.args)
            pairs = (
                [w.split("=", 1) for w in words]
                if "=" in words[0]
                else [[words[0], " ".join(words[1:])]]
            )
            for key, value in pairs:
                image.env[substitute(key, scope)] = substitute(value, scope)
        elif ins.cmd == "EXPOSE":
            image.expose += substitute(ins.args, scope).split()
        elif ins.cmd == "USER":
            image.user = substitute(ins.args, scope)
        elif ins.cmd == "COPY":
            self.copy(image, stage, scope, ins.args)
        elif ins.cmd == "RUN":
            image.runs.append(Run(stage, substitute(ins.args, scope)))
        elif ins.cmd == "CMD":
            image.cmd = _exec_form(ins.args)
        elif ins.cmd == "HEALTHCHECK":
            image.healthcheck, image.healthcheck_options = _healthcheck(ins.args)

    def copy(self, image: Image, stage: str, scope: Mapping[str, str], args: str) -> None:
        words = shlex.split(substitute(args, scope))
        flags = {w[2:].partition("=")[0]: w.partition("=")[2] for w in words if w.startswith("--")}
        *sources, dest = [w for w in words if not w.startswith("--")]
        source = flags.get("from")
        source_stage = source.lower() if source and source.lower() in self.stages else None
        if source_stage:
            builder = self.stage_image(source_stage)
            for built in builder.chain:
                if built not in image.builders:
                    image.builders.append(built)
            image.copies += [c for c in builder.copies if c not in image.copies]
            image.runs += [r for r in builder.runs if r not in image.runs]
        image.copies.append(
            Copy(stage, tuple(sources), dest, source_stage, None if source_stage else source)
        )


def resolve(dockerfile: Dockerfile, build_args: Mapping[str, str]) -> Image:
    """The image the last stage makes. Raises MissingVariable where Docker refuses to build."""
    return _Resolver(dockerfile, build_args).stage_image(dockerfile.stages[-1].name)


# --------------------------------------------------------------------------- what an image holds


def probed_url(image: Image) -> str:
    """The URL the image's HEALTHCHECK requests, found by running its `python -c` probe with the
    image's environment and urlopen replaced (a shell probe: its text, variables substituted)."""
    test = image.healthcheck or ["NONE"]
    if test[1:3] != ["python", "-c"]:
        found = re.search(r"https?://\S+", substitute(" ".join(test[1:]), image.env))
        return found.group(0).strip("'\"") if found else ""
    requested: list[str] = []

    def urlopen(url: Any, *args: Any, **kwargs: Any) -> None:
        requested.append(str(getattr(url, "full_url", url)))

    with (
        mock.patch("urllib.request.urlopen", urlopen),
        mock.patch.dict(os.environ, image.env, clear=True),
    ):
        exec(compile(test[3], "HEALTHCHECK", "exec"), {})  # our own probe, from the Dockerfile
    return requested[0] if requested else ""


def owned_dirs(image: Image) -> dict[str, str]:
    """The directories the image's RUN lines create for an owner (`install -d -o <user> …`)."""
    out = {}
    for run in image.runs:
        if not image.in_image(run):
            continue
        for owner, paths in re.findall(r"install -d -o (\S+) -g \S+ ([^;&|]+)", run.command):
            out.update(dict.fromkeys(paths.split(), owner))
    return out


def uv_syncs(image: Image) -> list[list[str]]:
    return [shlex.split(r.command) for r in image.runs if "uv sync" in r.command]


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    first = path.strip("/").split("/")[0]
    return any(p.strip("/") in (first, path.strip("/")) for p in patterns)


# --------------------------------------------------------------------------- checks


def build_problems(image: Image) -> list[str]:
    """Multi-stage with uv, a frozen lock, the venv copied into a runtime that is not the builder,
    every COPY from the build context, non-root."""
    problems = []
    venv = [c for c in image.copies if image.in_image(c) and c.dest.rstrip("/") == "/app/.venv"]
    if not venv or not all(c.source_stage in image.builders for c in venv):
        problems.append("not multi-stage: the runtime does not copy /app/.venv from a builder")
    if any(c.source_stage in image.chain for c in venv):
        problems.append("the runtime stands on its builder (uv and the sources in the image)")
    builder_copies = [c for c in image.copies if not image.in_image(c)]
    if not any("astral-sh/uv" in (c.source_image or "") for c in builder_copies):
        problems.append("the builder does not take uv from ghcr.io/astral-sh/uv")
    syncs = uv_syncs(image)
    if not syncs or not all("--frozen" in s and "--no-dev" in s for s in syncs):
        problems.append("uv sync must be --frozen --no-dev (the lock decides)")
    if any(image.in_image(r) and "uv sync" in r.command for r in image.runs):
        problems.append("the runtime runs uv sync")
    for c in image.copies:
        if c.source_stage or c.source_image:
            continue
        for src in c.sources:
            if not (ROOT / src).exists():
                problems.append(f"COPY {src}: no such path in the build context")
            elif dockerignored(src):
                problems.append(f"COPY {src}: excluded by .dockerignore")
    if image.user.split(":")[0] in ("", "root", "0"):
        problems.append("the image does not end as a non-root USER")
    return problems


def service_image_problems(service: str, image: Image) -> list[str]:
    """The image of `service`: its package installed, its settings' port served and probed, only
    ENV names its settings read, its command, the files its settings point at."""
    problems = build_problems(image)
    package = f"statmuse-{service}"
    installed = {
        s[i + 1] for s in uv_syncs(image) for i, w in enumerate(s[:-1]) if w == "--package"
    }
    if package not in installed:
        problems.append(f"uv sync does not install {package}")
    cls = settings_class(service)
    prefix, port = env_prefix(cls), default_port(service)
    env = image.env
    if env.get(f"{prefix}HTTP_PORT", str(port)) != str(port):
        problems.append(f"{prefix}HTTP_PORT={env[f'{prefix}HTTP_PORT']}, the service serves {port}")
    if env.get(f"{prefix}HTTP_HOST") != "0.0.0.0":
        problems.append(f"{prefix}HTTP_HOST must be 0.0.0.0 (probes come from outside)")
    if env.get("STATMUSE_ENV") != "production":
        problems.append("STATMUSE_ENV must default to production in an image")
    unknown = set(env) - known_env(cls) - RUNTIME_ENV
    problems += [f"ENV {n} is not a setting of the service" for n in sorted(unknown)]
    if not image.healthcheck or image.healthcheck == ["NONE"]:
        problems.append("no HEALTHCHECK")
    else:
        try:
            url = probed_url(image)
        except Exception as exc:  # the probe itself is broken: the container never turns healthy
            problems.append(f"HEALTHCHECK fails: {exc!r}")
        else:
            if url != f"http://127.0.0.1:{port}/health":
                problems.append(f"HEALTHCHECK requests {url!r}, not /health on port {port}")
    if str(port) not in [p.split("/")[0] for p in image.expose]:
        problems.append(f"EXPOSE {port} is missing")
    project = tomllib.loads((ROOT / f"services/{service}/pyproject.toml").read_text())["project"]
    if image.cmd != [package, "serve"]:
        problems.append(f"CMD is {image.cmd}, not {package} serve")
    if package not in project.get("scripts", {}):
        problems.append(f"{package} is not a script of the package")
    # A setting that points into the image (INGESTOR_DATA_DIR=/app/data/nba) finds files there.
    dests = [c.dest.rstrip("/") for c in image.copies if image.in_image(c)]
    for name in sorted(known_env(cls) & set(env)):
        path = env[name]
        if path.startswith("/app/") and not any(path.startswith(d) for d in dests):
            problems.append(f"{name}={path}: nothing is copied there")
    return problems


def ops_image_problems(image: Image) -> list[str]:
    """The migrate job's image: every workspace member, none of the local-stack packages, a job
    (no HEALTHCHECK) running `statmuse migrate`, non-root."""
    problems = build_problems(image)
    syncs = uv_syncs(image)
    if not syncs or not all("--all-packages" in s for s in syncs):
        problems.append("uv sync must install --all-packages (statmuse migrate finds them all)")
    locked = locked_packages()
    for s in syncs:
        skipped = [s[i + 1] for i, w in enumerate(s) if w == "--no-install-package"]
        problems += [
            f"--no-install-package {p}: not in uv.lock" for p in skipped if p not in locked
        ]
    if image.cmd != ["statmuse", "migrate"]:
        problems.append(f"CMD is {image.cmd}, not statmuse migrate")
    if image.healthcheck != ["NONE"]:
        problems.append("a one-shot job: HEALTHCHECK NONE")
    return problems


def image_problems(name: str, text: str, build_args: Mapping[str, str]) -> list[str]:
    """Problems of the image `name` (a service, or ops) built from `text` with `build_args`."""
    try:
        image = resolve(parse_dockerfile(text), build_args)
    except (MissingVariable, KeyError, IndexError, ValueError) as exc:
        return [f"image {name}: docker build fails: {exc!r}"]
    found = ops_image_problems(image) if name == "ops" else service_image_problems(name, image)
    return [f"image {name}: {p}" for p in found]
