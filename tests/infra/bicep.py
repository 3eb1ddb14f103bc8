"""The Bicep under infra/, parsed with pycep-parser, and small helpers to read it.

pycep turns a Bicep file into JSON: ``resources`` (symbol → type, config), ``modules``,
``variables``, ``parameters``. Plain strings and identifiers both come out as strings, and
expressions as nested ``{"operator"|"function": ...}`` objects, so the helpers here only look
for what the tests need: literal values, and the names an expression mentions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


@dataclass(frozen=True)
class Resource:
    file: Path
    symbol: str
    type: str
    config: dict[str, Any]

    @property
    def properties(self) -> dict[str, Any]:
        value = self.config.get("properties", {})
        return value if isinstance(value, dict) else {}

    def __str__(self) -> str:
        return f"{self.file.relative_to(INFRA)}:{self.symbol} ({self.type})"


@cache
def parsed(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = dict(BicepParser().parse(file_path=path))
    return result


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def resources(type_: str | None = None, *, existing: bool = False) -> Iterator[Resource]:
    """Every resource declared in infra/ (``existing`` references left out unless asked)."""
    for path in bicep_files():
        for symbol, body in parsed(path).get("resources", {}).items():
            if bool(body.get("existing")) != existing:
                continue
            if type_ is None or body["type"] == type_:
                yield Resource(path, symbol, body["type"], _config(body))


def _config(body: dict[str, Any]) -> dict[str, Any]:
    """The object of a resource or module, unwrapped from a loop or a condition."""
    config = body["config"]
    while isinstance(config.get("config"), dict) and (
        "loop_type" in config or "condition" in config
    ):
        config = config["config"]
    return dict(config)


def variable(path: Path, name: str) -> Any:
    return parsed(path)["variables"][name]["value"]


def module_params(path: Path, symbol: str) -> dict[str, Any]:
    body = parsed(path)["modules"][symbol]
    params: dict[str, Any] = _config(body)["params"]
    return params


def mentions(expression: Any) -> str:
    """The expression as text, to look for the names and literals it uses."""
    return json.dumps(expression, sort_keys=True)


def module_file(symbol_path: str) -> Path:
    return INFRA / "modules" / symbol_path


MAIN = INFRA / "main.bicep"
