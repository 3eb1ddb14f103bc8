"""The serving image's Dockerfile, read as data: its instructions, what it copies from the build
context, the environment it sets and the user it ends as. There is no container runtime here,
so tests check the file and lay out what it copies to serve it without an image."""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "training" / "serving" / "Dockerfile"
CONTEXT = REPO / "training"  # az acr build ... --file training/serving/Dockerfile training/
DOCKERIGNORE = CONTEXT / ".dockerignore"
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    value: str  # continuation lines joined, comments dropped


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    found: list[Instruction] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, value = (pending + stripped).partition(" ")
        found.append(Instruction(keyword.upper(), value.strip()))
        pending = ""
    assert not pending, f"{path.name} ends inside a continued line"
    return found


def values(keyword: str, path: Path = DOCKERFILE) -> list[str]:
    return [i.value for i in instructions(path) if i.keyword == keyword]


def pairs(keyword: str, path: Path = DOCKERFILE) -> dict[str, str]:
    """ENV, LABEL or ARG key=value pairs, quotes removed, in file order (later wins)."""
    found: dict[str, str] = {}
    for value in values(keyword, path):
        for word in shlex.split(value):
            name, _, setting = word.partition("=")
            found[name] = setting
    return found


def environment() -> dict[str, str]:
    """The ENV values the image ends with, ${NAME} expanded from earlier ones (a base image's
    own values stay unexpanded)."""
    found: dict[str, str] = {}
    for value in values("ENV"):
        for word in shlex.split(value):
            name, _, setting = word.partition("=")
            found[name] = _VARIABLE.sub(lambda m: found.get(m[1] or m[2], m[0]), setting)
    return found


def copies() -> list[tuple[list[str], str]]:
    """(sources relative to the build context, destination) of each COPY."""
    found = []
    for value in values("COPY"):
        words = [w for w in shlex.split(value) if not w.startswith("--")]
        found.append((words[:-1], words[-1]))
    return found


def final_user() -> str:
    users = values("USER")
    assert users, "the Dockerfile never sets USER"
    return users[-1]


def lay_out(root: Path) -> Path:
    """Copy what the Dockerfile copies from the context into ``root`` as the image holds it;
    returns root. ``/var/azureml-app/src/`` becomes ``root/var/azureml-app/src/``."""
    for sources, destination in copies():
        target = root / destination.lstrip("/")
        for source in sources:
            if destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(CONTEXT / source, target / Path(source).name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(CONTEXT / source, target)
    return root
