"""The functions registered in ``function_app.py``: the local host calls these, nothing else."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

_lock = threading.Lock()
_functions: dict[str, Any] = {}


def registered() -> dict[str, Any]:
    """Function name → the ``azure.functions`` Function object. ``get_functions()`` may be
    called only once per app object, so the first caller builds the map under a lock."""
    with _lock:
        if not _functions:
            import function_app

            _functions.update(
                {str(fn.get_function_name()): fn for fn in function_app.app.get_functions()}
            )
        return dict(_functions)


def user_function(
    name: str, trigger_type: str, functions: Mapping[str, Any] | None = None
) -> Callable[..., Any]:
    """The decorated Python function behind ``name``; KeyError if it is not a
    ``trigger_type`` (e.g. ``eventGridTrigger``) function of the app (or of ``functions``,
    a map like ``registered()`` built from another app)."""
    fn = (registered() if functions is None else functions).get(name)
    if fn is None or fn.get_trigger().type != trigger_type:
        raise KeyError(name)
    user: Callable[..., Any] = fn.get_user_function()
    return user


def call(user: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a user function as the Python worker does: an ``async def`` one is awaited."""
    result = user(*args, **kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_wait(result))
    return result


async def _wait(awaitable: Any) -> Any:
    return await awaitable
