"""How a use case receives its ports: by name, as cosmicpython's bootstrap injects only what a
handler's signature names, so a signature says what a use case touches.

A use case's keyword-only parameters without a default are what it asks for; each must be
the name of one of ``Deps``' fields (platform, blobs, state, secrets, audit, clock, settings,
smoke_set, registry, ...). Anything else in its signature is the caller's to pass.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields

from shared.services.deps import Deps


@functools.cache
def asks_for(use_case: Callable[..., object]) -> tuple[str, ...]:
    """The ports ``use_case`` names; an unknown name is a wiring mistake, refused here."""
    offered = {field.name for field in fields(Deps)}
    named = tuple(
        parameter.name
        for parameter in inspect.signature(use_case).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        and parameter.default is inspect.Parameter.empty
    )
    unknown = [name for name in named if name not in offered]
    if unknown:
        raise TypeError(
            f"{use_case.__qualname__} asks for {', '.join(unknown)}: no such dependency "
            f"(offered: {', '.join(sorted(offered))})"
        )
    return named


def inject[R](use_case: Callable[..., R], deps: Deps) -> Callable[..., R]:
    """``use_case`` with exactly the ports it names taken from ``deps``, and nothing else."""
    return functools.partial(use_case, **{name: getattr(deps, name) for name in asks_for(use_case)})
