"""A use case's signature says what it touches: no service takes the whole Deps (decision 252).

The injector (shared/services/injection.py) passes each use case the ports it names; a
function that took ``Deps`` would hide which of them it uses.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import shared.services
from shared.ports import StateStore
from shared.services.deps import Deps

_ASSEMBLY = {"shared.services.deps", "shared.services.injection", "shared.services.config"}


def _deps_takers(module: types.ModuleType) -> set[str]:
    """Functions defined in ``module`` with a parameter annotated ``Deps``."""
    return {
        name
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and any("Deps" in str(hint) for hint in inspect.get_annotations(function).values())
    }


def test_no_service_function_takes_the_whole_deps() -> None:
    found = {
        f"{info.name}.{name}"
        for info in pkgutil.iter_modules(shared.services.__path__, "shared.services.")
        if info.name not in _ASSEMBLY
        for name in _deps_takers(importlib.import_module(info.name))
    }
    assert found == set()


def test_the_check_finds_a_function_that_takes_it() -> None:
    def handle(event: object, deps: Deps) -> None: ...

    def asks(event: object, *, state: StateStore) -> None: ...

    module = types.ModuleType("example")
    for function in (handle, asks):
        function.__module__ = module.__name__
        setattr(module, function.__name__, function)
    assert _deps_takers(module) == {"handle"}
