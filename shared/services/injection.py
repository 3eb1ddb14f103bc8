"""How a use case receives its ports: by name, as cosmicpython's bootstrap injects only what
a handler's signature names, so a signature says what a use case touches.

A use case's keyword-only parameters named after a field of ``Deps`` (platform, blobs, state,
secrets, audit, clock, settings, smoke_set, registry, ...) are filled from it; its other
parameters are the caller's. A required keyword-only parameter that is neither (a misspelt
port, say) is refused before the use case runs, naming what is offered.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from shared.services.deps import Deps

_OFFERED = frozenset(field.name for field in fields(Deps))


@functools.cache
def asks_for(use_case: Callable[..., object]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The ports ``use_case`` names, and the keyword-only parameters it cannot run without."""
    keywords = [
        parameter
        for parameter in inspect.signature(use_case).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    ports = tuple(parameter.name for parameter in keywords if parameter.name in _OFFERED)
    required = frozenset(
        parameter.name for parameter in keywords if parameter.default is inspect.Parameter.empty
    )
    return ports, required


def inject[R](use_case: Callable[..., R], deps: Deps) -> Callable[..., R]:
    """``use_case`` with exactly the ports it names taken from ``deps``, and nothing else."""
    names, required = asks_for(use_case)
    ports = {name: getattr(deps, name) for name in names}

    def run(*args: Any, **given: Any) -> R:
        if unknown := sorted(required - ports.keys() - given.keys()):
            raise TypeError(
                f"{use_case.__qualname__} asks for {', '.join(unknown)}: no such dependency "
                f"and not passed by the caller (offered: {', '.join(sorted(_OFFERED))})"
            )
        if twice := sorted(ports.keys() & given.keys()):
            raise TypeError(f"{use_case.__qualname__}: {', '.join(twice)} is injected, not passed")
        return use_case(*args, **ports, **given)

    return run
