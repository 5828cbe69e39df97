"""docs/runbooks: every `statmuse…` command names real (sub)commands and options of the
installed CLIs, and every link and section it points to exists."""

import importlib
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from deploylib.common import ROOT, SERVICES


def slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#+\s+(.+)$", path.read_text(), flags=re.M)}


RUNBOOKS = ROOT / "docs/runbooks"
# `statmuse <cmd> …` that hand their arguments to a service's CLI (statmuse_ops.cli).
PASSTHROUGH = {
    "ingest": ("statmuse-ingestor", ()),
    "train": ("statmuse-trainer", ("train",)),
    "evaluate": ("statmuse-trainer", ("evaluate",)),
    "backtest": ("statmuse-trainer", ("backtest",)),
    "fit-lines": ("statmuse-trainer", ("fit-lines",)),
    "fit-market": ("statmuse-trainer", ("fit-market",)),
    "apikey": ("statmuse-gateway", ("apikey",)),
}


def shell_commands(markdown: str) -> Iterator[str]:
    """Every command line of the fenced shell blocks (continuations joined)."""
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", markdown, flags=re.S):
        buf = ""
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            if (buf + line).strip() and not line.startswith("#"):
                yield buf + line
            buf = ""


def _cli(script: str) -> Any:
    import typer

    module = "statmuse_ops.cli" if script == "statmuse" else script.replace("-", "_") + ".cli"
    return typer.main.get_command(importlib.import_module(module).app)


def command_problems(line: str, *, complete: bool = True) -> list[str]:
    """A `statmuse…` command must name real (sub)commands and options of the installed CLIs;
    `complete=False` (a mention in prose) lets it stop at a group (`statmuse-gateway apikey`)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        return [f"{line}: {exc}"]
    cut = next((i for i, w in enumerate(words) if w in ("|", "&&", ";", ">", "2>")), len(words))
    words = [w for w in words[:cut] if w not in ("…", "...")]  # "and so on" in prose
    start = next(
        (
            i
            for i, w in enumerate(words)
            if re.fullmatch(r"statmuse(-\w+)?", w) and (i == 0 or words[i - 1] != "-n")
        ),
        None,
    )
    if start is None:
        return []
    script, args = words[start], words[start + 1 :]
    if script != "statmuse" and script.removeprefix("statmuse-") not in SERVICES:
        return [f"{line}: no such CLI {script}"]
    if script == "statmuse" and args and args[0] in PASSTHROUGH:
        script, prefix = PASSTHROUGH[args[0]]
        args = [*prefix, *args[1:]]
    cmd = _cli(script)
    path = [script]
    # Typer carries its own click: groups are recognised by their `commands`.
    while getattr(cmd, "commands", None) is not None and args and not args[0].startswith("-"):
        sub = cmd.commands.get(args[0])
        if sub is None:
            return [f"{line}: `{' '.join(path)}` has no command {args[0]!r}"]
        path.append(args.pop(0))
        cmd = sub
    if complete and getattr(cmd, "commands", None) is not None:
        return [f"{line}: `{' '.join(path)}` needs a command"]
    options = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]} | {"--help"}
    return [
        f"{line}: `{' '.join(path)}` has no option {a.split('=')[0]}"
        for a in args
        if a.startswith("--") and a.split("=")[0] not in options
    ]


def runbook_problems(files: Iterable[Path]) -> list[str]:
    problems = []
    for path in files:
        text = path.read_text()
        for line in shell_commands(text):
            problems += [f"{path.name}: {p}" for p in command_problems(line)]
        for span in re.findall(r"(?<!`)`((?:uv run )?statmuse[^`]*)`(?!`)", text):
            found = command_problems(" ".join(span.split()), complete=False)
            problems += [f"{path.name}: {p}" for p in found]
        for target, anchor in re.findall(r"\]\(([^)#\s]+\.md)?(?:#([\w-]+))?\)", text):
            file = (path.parent / target) if target else path
            if target and target != "backup-restore.md" and not file.is_file():
                problems.append(f"{path.name}: link to missing {target}")
            elif anchor and file.is_file() and anchor not in anchors(file):
                problems.append(f"{path.name}: link to missing section {target}#{anchor}")
    return problems
