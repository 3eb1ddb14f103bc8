"""`pip install .` and the Python version. pyproject.toml declares every third-party package the
app imports (so an installed `mlops` runs), at the versions the tests run on; the project is on
Python 3.13 everywhere (Flex Consumption's runtime, azure-functions 2.x's requires-python); and
the Makefile finds a 3.13 interpreter and rebuilds the venv when the interpreter changes."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.infra.bicep import REPO
from tests.infra.test_lock import canonical, pins

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
FIRST_PARTY = frozenset({"shared", "functions", "function_app"})
# The Function App's code: what `pip install .` packages and the host imports.
APP_SOURCES = (REPO / "function_app.py", *REPO.glob("shared/**/*.py"), *REPO.glob("functions/*.py"))
# Azure runs the worker; the app never imports it, so `pip install .` does not need it.
WORKER = "azure-functions-runtime"


def declared() -> dict[str, Requirement]:
    requirements = (Requirement(text) for text in PYPROJECT["project"]["dependencies"])
    return {canonical(r.name): r for r in requirements}


def imported_modules(path: Path) -> set[str]:
    """Absolute imports anywhere in ``path`` (lazy ones inside functions included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


@cache
def file_owners() -> dict[str, frozenset[str]]:
    """Installed file (relative to site-packages) -> the distributions that list it."""
    owners: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = canonical(dist.metadata["Name"])
        for file in dist.files or []:
            owners.setdefault(str(file), set()).add(name)
    return {file: frozenset(names) for file, names in owners.items()}


def owners_of(module: str) -> frozenset[str]:
    """The distributions that install ``module`` (its deepest file we can find)."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        stem = "/".join(parts[:depth])
        for candidate in (f"{stem}/__init__.py", f"{stem}.py"):
            if candidate in file_owners():
                return file_owners()[candidate]
    return frozenset()


def test_pyproject_declares_every_third_party_package_the_app_imports() -> None:
    wanted = declared()
    missing: dict[str, frozenset[str]] = {}
    for path in APP_SOURCES:
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                continue
            owners = owners_of(module)
            assert owners, f"{path.relative_to(REPO)} imports {module}, which nothing installs"
            if not owners & wanted.keys():
                missing[module] = owners
    assert missing == {}, "add these distributions to pyproject's dependencies"


def test_the_scan_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from mlflow.exceptions import MlflowException\n")
    assert imported_modules(source) == {"mlflow.exceptions"}
    assert "mlflow" in owners_of("mlflow.exceptions")


def test_pyproject_pins_are_the_tested_pins() -> None:
    tested = {**pins(REPO / "requirements-dev.txt"), **pins(REPO / "requirements.in")}
    for name, requirement in declared().items():
        assert str(requirement.specifier) == f"=={tested.get(name)}", name


def test_pyproject_declares_every_direct_runtime_pin_but_the_worker() -> None:
    assert set(pins(REPO / "requirements.in")) - set(declared()) == {WORKER}


def test_python_313_everywhere() -> None:
    assert PYPROJECT["project"]["requires-python"] == ">=3.13"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py313"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == "3.13"
    assert re.search(r"^PYTHON_VERSION := 3\.13$", (REPO / "Makefile").read_text(), re.M)
    assert sys.version_info[:2] == (3, 13), "the venv is not the Makefile's Python: run make"


def test_training_code_is_linted_for_the_azure_ml_environments_python() -> None:
    """train.py and score.py run on the conda files' Python, not the Function App's."""
    conda = (REPO / "training/environment/inference-conda.yml").read_text()
    version = re.search(r"- python=3\.(\d+)", conda)
    assert version is not None
    targets = PYPROJECT["tool"]["ruff"]["per-file-target-version"]
    assert targets == {"training/**": f"py3{version.group(1)}"}


def fake_python(path: Path, prints: str) -> Path:
    """An executable that answers every ``-c`` like a Python printing ``prints``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{prints}'\n")
    path.chmod(0o755)
    return path


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def found_python(env: dict[str, str]) -> str:
    out = make("--eval", "which-python: ; @echo '[$(PYTHON)]'", "which-python", env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


BARE_PATH = "/usr/bin:/bin"


@pytest.fixture
def bare_env(tmp_path: Path) -> dict[str, str]:
    """No PYTHON, no pyenv, no python3.13 on PATH; an empty pyenv root."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "PYENV_VERSION", "MAKEFLAGS"}}
    return env | {"PATH": BARE_PATH, "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}


def test_make_takes_python313_from_path(tmp_path: Path, bare_env: dict[str, str]) -> None:
    fake_python(tmp_path / "bin" / "python3.13", "/opt/py/bin/python3.13")
    env = bare_env | {"PATH": f"{tmp_path / 'bin'}:{BARE_PATH}"}
    assert found_python(env) == "[/opt/py/bin/python3.13]"


def test_make_falls_back_to_pyenvs_newest_313(tmp_path: Path, bare_env: dict[str, str]) -> None:
    versions = tmp_path / "pyenv" / "versions"
    for version in ("3.13.2", "3.13.10", "3.12.9"):
        fake_python(versions / version / "bin" / f"python{version[:4]}", "unused")
    assert found_python(bare_env) == f"[{versions}/3.13.10/bin/python3.13]"


def test_make_says_so_when_there_is_no_313(tmp_path: Path, bare_env: dict[str, str]) -> None:
    assert found_python(bare_env) == "[]"
    out = make("-n", f"VENV={tmp_path / 'venv'}", f"{tmp_path / 'venv'}/.installed", env=bare_env)
    assert out.returncode == 0  # -n prints the recipe: its first line refuses an empty PYTHON
    assert 'test -n ""' in out.stdout and "no Python 3.13" in out.stdout


def test_make_rebuilds_the_venv_when_the_interpreter_changes(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    fake_python(venv / "bin" / "python", "50987760 /old/3.11")
    stamp = venv / ".installed"
    stamp.touch()
    os.utime(stamp, (4_000_000_000, 4_000_000_000))  # newer than every requirements file
    same = fake_python(tmp_path / "same", "50987760 /old/3.11")
    other = fake_python(tmp_path / "other", "51183856 /new/3.13")

    kept = make("-n", f"VENV={venv}", f"PYTHON={same}", str(stamp))
    assert "is up to date" in kept.stdout, kept.stdout + kept.stderr

    rebuilt = make("-n", f"VENV={venv}", f"PYTHON={other}", str(stamp))
    assert f"rm -rf {venv} && {other} -m venv {venv}" in rebuilt.stdout
    assert "--require-hashes -r requirements.txt" in rebuilt.stdout
