"""Which azmlinfsrv the local backend starts: the inference server lives in its own venv (it pins
pydantic below the app's), found through MLOPS_AZMLINFSRV or where `make` builds it."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.adapters.local import inference_server
from shared.adapters.local.inference_server import AZMLINFSRV_VARIABLE, azmlinfsrv
from shared.adapters.project_files import REPO_ROOT


def test_the_variable_wins(tmp_path: Path) -> None:
    tool = tmp_path / "tool" / "azmlinfsrv"
    tool.parent.mkdir()
    tool.touch()
    chosen = azmlinfsrv({AZMLINFSRV_VARIABLE: "/opt/inference/bin/azmlinfsrv"}, tool=tool)
    assert chosen == Path("/opt/inference/bin/azmlinfsrv")


def test_then_the_venv_make_builds(tmp_path: Path) -> None:
    tool = tmp_path / "azmlinfsrv"
    tool.touch()
    assert azmlinfsrv({}, tool=tool) == tool
    assert azmlinfsrv({AZMLINFSRV_VARIABLE: ""}, tool=tool) == tool


def test_else_the_one_beside_this_interpreter(tmp_path: Path) -> None:
    chosen = azmlinfsrv({}, tool=tmp_path / "missing")
    assert chosen == Path(sys.executable).parent / "azmlinfsrv"


def test_make_builds_it_where_the_backend_looks() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "AZMLINFSRV := $(TOOLS)/azmlinfsrv/bin/azmlinfsrv" in makefile
    assert "TOOLS := .tools" in makefile
    assert inference_server.TOOL_AZMLINFSRV == (
        REPO_ROOT / ".tools" / "azmlinfsrv" / "bin" / "azmlinfsrv"
    )


def test_gunicorn_loads_the_loopback_config_by_path() -> None:
    """The server's venv does not have this project installed: ``python:shared...`` would fail."""
    assert inference_server.GUNICORN_CONFIG.is_file()
    assert inference_server.GUNICORN_CONFIG.name == "gunicorn_loopback.py"
