"""The functions registered in ``function_app.py``: the local host calls these, nothing else.

They are checked as Azure checks them after the Python worker indexes the app, so the local
host refuses at start-up what Azure would not index (see ``refusals``).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

_lock = threading.Lock()
_functions: dict[str, Any] = {}
_refused: list[Refused] = []

# azure-functions-host src/WebJobs.Script/Utility.cs: FunctionNameValidationRegex (case-
# insensitive, "host" excluded) and BindingNameValidationRegex (no underscore, or "$return").
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)
_BINDING_NAME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$")
# ScriptHost.ValidateHttpFunction: a route that *starts with* these is the host's own.
_RESERVED_ROUTE_PREFIXES = ("admin", "runtime")


class Refused(ValueError):
    """Azure would not index the app this way; the message names the function and the rule."""


def registered() -> dict[str, Any]:
    """Function name → the ``azure.functions`` Function object, checked by ``index``.
    ``get_functions()`` may be called only once per app object, so the first caller builds
    the map under a lock, and a refusal is kept to be raised again."""
    with _lock:
        if _refused:
            raise _refused[0]
        if not _functions:
            import function_app

            try:
                _functions.update(index(function_app.app))
            except Refused as why:
                _refused.append(why)
                raise
        return dict(_functions)


def index(app: Any) -> dict[str, Any]:
    """The app's functions by name; ``Refused`` listing every function Azure would not index."""
    functions = {str(fn.get_function_name()): fn for fn in app.get_functions()}
    problems = refusals(functions)
    if problems:
        raise Refused("; ".join(problems))
    return functions


def refusals(functions: Mapping[str, Any]) -> list[str]:
    """What the Functions host (WorkerFunctionMetadataProvider.ValidateMetadata, ScriptHost.
    ValidateFunction) and the Python worker (Registry.add_indexed_function) refuse, one line
    each. Azure leaves such a function out and runs the rest; the local host does not start."""
    problems = []
    routes: dict[str, tuple[str, frozenset[str] | None]] = {}
    for name, fn in functions.items():
        why = _function_problems(name, fn)
        trigger = fn.get_trigger()
        if not why and trigger.type == "httpTrigger":
            why = _route_problems(name, trigger, routes)
        problems += [f"function {name}: {reason}" for reason in why]
    return problems


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


def _function_problems(name: str, fn: Any) -> list[str]:
    if not _FUNCTION_NAME.match(name) or name.lower() == "host":
        return [f"'{name}' is not a valid function name (a letter, then letters, digits, _, -)"]
    problems = []
    seen: set[str] = set()
    for binding in fn.get_bindings():
        if not _BINDING_NAME.match(binding.name):
            problems.append(
                f"binding name {binding.name} is invalid (a letter, then letters or digits)"
            )
        if binding.name.lower() in seen:
            problems.append(f"multiple bindings are named '{binding.name}'")
        seen.add(binding.name.lower())
        if binding.name == "$return" and _direction(binding) != "OUT":
            problems.append("a $return binding must have the direction out")
    triggers = [b for b in fn.get_bindings() if str(b.type).lower().endswith("trigger")]
    if len(triggers) != 1:
        problems.append(f"a function needs exactly one trigger binding, it has {len(triggers)}")
    return problems + _parameter_problems(fn)


def _parameter_problems(fn: Any) -> list[str]:
    """The Python worker's check: the parameters are exactly the bindings' names (but
    ``$return``), and ``context`` may be left out of the bindings."""
    params = set(inspect.signature(fn.get_user_function()).parameters)
    bound = {b.name for b in fn.get_bindings() if b.name != "$return"}
    if "context" not in bound:
        params.discard("context")
    problems = []
    if params - bound:
        problems.append(f"parameters {sorted(params - bound)} have no binding")
    if bound - params:
        problems.append(f"bindings {sorted(bound - params)} have no Python parameter")
    return problems


def _route_problems(
    name: str, trigger: Any, routes: dict[str, tuple[str, frozenset[str] | None]]
) -> list[str]:
    """Reserved routes, then a conflict with an earlier function: the same route, ignoring
    case and slashes, with a method in common (no methods means every method)."""
    route = str(trigger.route or name).strip("/")
    if route.lower().startswith(_RESERVED_ROUTE_PREFIXES):
        return [f"route '{route}' conflicts with the host's built-in routes (admin*, runtime*)"]
    methods = frozenset(_text(m).upper() for m in trigger.methods or ()) or None
    for other, (other_route, other_methods) in routes.items():
        if other_route.lower() != route.lower():
            continue
        if methods is None or other_methods is None or methods & other_methods:
            return [f"route '{route}' conflicts with the route of function {other}"]
    routes[name] = (route, methods)
    return []


def _direction(binding: Any) -> str:
    """IN, OUT or INOUT, as the raw binding the worker sends the host spells it."""
    return str(binding.get_dict_repr().get("direction", "")).upper()


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))
