"""The composition root: settings in, adapters out, built once per process, lazily.

Function code calls a use case through ``call()``, which passes it the ports its signature
names (shared/services/injection.py); tests and the local host ``install()`` their own.
The backend is chosen from a table of module paths, so neither backend is imported statically:
the Azure runtime never loads the local stand-ins (MLflow, scikit-learn) and the local backend
never loads the Azure SDKs it does not use.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared.services.deps import Deps
from shared.services.injection import inject

if TYPE_CHECKING:
    from shared.settings import Settings

BACKENDS = {
    "azure": "shared.adapters.azure.backend:build",
    "local": "shared.adapters.local.backend:build",
}

_lock = threading.Lock()
_deps: Deps | None = None


def build(settings: Settings) -> Any:
    """The backend ``settings.backend`` names; its ``deps`` are what services receive."""
    module, _, function = BACKENDS[settings.backend].partition(":")
    return getattr(importlib.import_module(module), function)(settings)


def deps() -> Deps:
    """The process-wide dependencies, built on first use."""
    global _deps
    with _lock:
        if _deps is None:
            from shared.settings import Settings

            settings = Settings()
            _deps = build(settings).deps
        return _deps


def call[R](use_case: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """Run ``use_case`` with ``args`` and, from ``deps()``, exactly the ports it names."""
    return inject(use_case, deps())(*args, **kwargs)


def install(new: Deps | None) -> None:
    """Use ``new`` for this process (tests, the local host); None forgets it."""
    global _deps
    with _lock:
        _deps = new
