"""Only the host stand-in (shared/devhost/) imports function_app: whatever else imported it
would pull every trigger into its process, and the cycle function_app -> functions ->
bootstrap -> ... -> function_app would be back. import-linter cannot say this (function_app
is a module, not a package in its layers), so every module of the project is read with ast:
import statements, TYPE_CHECKING blocks and importlib.import_module("...") calls alike.
The tests are left out: they start the app as the Functions host does."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

from shared.adapters.project_files import REPO_ROOT

APP = "function_app"
ALLOWED = ("shared/devhost/",)
NOT_THE_PROJECT = (".venv", ".tools", ".mlops", "node_modules", "tests", ".git")


def modules() -> Iterator[Path]:
    for folder, subfolders, files in os.walk(REPO_ROOT):
        here = Path(folder).relative_to(REPO_ROOT)
        if here == Path():
            subfolders[:] = [name for name in subfolders if name not in NOT_THE_PROJECT]
        yield from (here / name for name in sorted(files) if name.endswith(".py"))


def imports_of_the_app(source: str) -> list[int]:
    """The lines of ``source`` that import function_app (or a name from it)."""
    found = []
    names: list[object]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        elif isinstance(node, ast.Call) and _dynamic_import(node.func) and node.args:
            first = node.args[0]
            names = [first.value] if isinstance(first, ast.Constant) else []
        else:
            continue
        if any(isinstance(name, str) and name.split(".")[0] == APP for name in names):
            found.append(node.lineno)
    return found


def _dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("__import__", "import_module")


def test_only_the_host_stand_in_imports_function_app() -> None:
    importers = {
        str(path): lines
        for path in modules()
        if (lines := imports_of_the_app((REPO_ROOT / path).read_text(encoding="utf-8")))
    }
    outside = {path: lines for path, lines in importers.items() if not path.startswith(ALLOWED)}
    assert outside == {}
    assert "shared/devhost/functions_registry.py" in importers  # the one that should


def test_the_rule_sees_every_spelling_of_an_import() -> None:
    spellings = [
        "import function_app",
        "import function_app as app",
        "import os, function_app",
        "from function_app import app",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import function_app",
        "def f():\n    import function_app",
        "import importlib\nimportlib.import_module('function_app')",
        "__import__('function_app')",
    ]
    for source in spellings:
        assert imports_of_the_app(source), source
    unrelated = ["import function_apps", "from shared import function_app_like", "from . import x"]
    for source in unrelated:
        assert not imports_of_the_app(source), source
