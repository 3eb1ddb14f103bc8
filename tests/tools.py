"""External test tools (Azurite, checkov, actionlint, Chromium, the Kusto analyzer, Graphviz):
found through their MLOPS_* variable or the place `make tools` puts them. A missing tool skips
the tests that need it, or fails them when MLOPS_REQUIRE_TOOLS=1 (as `make test` sets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]


def missing_tool(message: str) -> NoReturn:
    if os.environ.get("MLOPS_REQUIRE_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def tool_path(variable: str, default: Path | str, what: str) -> Path:
    """The tool named by ``variable`` (relative paths are from the repo), else ``default``."""
    configured = os.environ.get(variable)
    path = Path(configured) if configured else Path(default)
    if not path.is_absolute():
        path = REPO / path
    if not path.is_file():
        missing_tool(f"{what} not found at {path} (`make tools` installs it, or set {variable})")
    return path
