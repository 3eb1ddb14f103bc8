"""``/api/<route>``: the app's HTTP-triggered functions, matched and authorized as the
Functions host does (route template, methods, auth level), called with a real
``func.HttpRequest``.

Route templates: literal segments match case-insensitively; ``{name}``, ``{name?}``,
``{*rest}`` and ``{name:constraint}``. The constraints ``int``, ``long``, ``alpha``, ``bool``
and ``guid`` are enforced; any other constraint is accepted and not enforced.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import azure.functions as func

from shared.devhost.functions_registry import call
from shared.devhost.host_keys import HostKeys, matches_any
from shared.devhost.messages import Head, Prepared, Reply, presented_keys

log = logging.getLogger("mlops.host.http")

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}?=]+))?(\?)?(?:=[^}]*)?\}$")
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}",
}


@dataclass(frozen=True)
class HttpRoute:
    function: str
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: every method
    auth_level: str  # anonymous, function or admin
    arg_name: str
    user: Any
    precedence: tuple[int, ...]


def route_prefix(host_json: Path) -> str:
    """``extensions.http.routePrefix`` from host.json, "api" when not set."""
    try:
        doc = json.loads(host_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "api"
    prefix = doc.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


def compile_routes(functions: Mapping[str, Any], prefix: str) -> list[HttpRoute]:
    """The HTTP functions' routes, most specific first (literals before parameters)."""
    routes = []
    for name, fn in functions.items():
        trigger = fn.get_trigger()
        if trigger.type != "httpTrigger":
            continue
        template = (trigger.route or name).strip("/")
        pattern, precedence = _compile(f"{prefix}/{template}" if prefix else template)
        methods = trigger.methods
        routes.append(
            HttpRoute(
                function=name,
                template=template,
                pattern=pattern,
                methods=frozenset(_text(m).upper() for m in methods) if methods else None,
                auth_level=_text(trigger.auth_level or "function").lower(),
                arg_name=trigger.name,
                user=fn.get_user_function(),
                precedence=precedence,
            )
        )
    return sorted(routes, key=lambda r: r.precedence)


class HttpFunctions:
    def __init__(self, routes: list[HttpRoute], keys: HostKeys) -> None:
        self._routes = routes
        self._keys = keys

    def prepare(self, head: Head) -> Prepared:
        matched = [(r, m) for r in self._routes if (m := r.pattern.fullmatch(head.path))]
        if not matched:
            return Reply.error(404, "no function at this route")
        for route, match in matched:
            if route.methods is None or head.method in route.methods:
                if not self._authorized(route, head):
                    needed = "the master key" if route.auth_level == "admin" else "a function key"
                    return Reply.error(401, f"{needed} is required")
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                return lambda body: _invoke(route, head, params, body)
        allowed = sorted({method for r, _ in matched for method in r.methods or ()})
        return Reply.error(405, "method not allowed", {"Allow": ", ".join(allowed)})

    def _authorized(self, route: HttpRoute, head: Head) -> bool:
        if route.auth_level == "anonymous":
            return True
        accepted = [self._keys.master]
        if route.auth_level == "function":
            accepted += self._keys.function_keys.values()
        return matches_any(presented_keys(head, "x-functions-key"), accepted)


def _invoke(route: HttpRoute, head: Head, params: dict[str, str], body: bytes) -> Reply:
    request = func.HttpRequest(
        head.method,
        head.url,
        headers=head.header_dict(),
        params={key: values[0] for key, values in head.query.items() if values},
        route_params=params,
        body=body,
    )
    try:
        result = call(route.user, **{route.arg_name: request})
    except Exception:  # detail in the log; the client learns only that it failed
        log.exception("HTTP function %s failed", route.function)
        return Reply.error(500, "the function failed")
    return _reply(route, result)


def _reply(route: HttpRoute, result: Any) -> Reply:
    if isinstance(result, str | bytes):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        log.error("HTTP function %s returned %s", route.function, type(result).__name__)
        return Reply.error(500, "the function failed")
    headers = dict(result.headers.items())
    if not any(key.lower() == "content-type" for key in headers):
        headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
    return Reply(result.status_code, result.get_body(), headers)


def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    parts, precedence = [], []
    for segment in template.split("/"):
        param = _PARAM.match(segment)
        if param is None:
            parts.append("/" + re.escape(segment))
            precedence.append(0)
            continue
        catch_all, name, constraint, optional = param.groups()
        value = ".*" if catch_all else _constraint(constraint)
        optional = optional or catch_all
        parts.append(f"(?:/(?P<{name}>{value}))?" if optional else f"/(?P<{name}>{value})")
        precedence.append(3 if catch_all else 1 if constraint else 2)
    return re.compile("(?i:" + "".join(parts) + ")"), tuple(precedence)


def _constraint(constraint: str | None) -> str:
    first = (constraint or "").split(":")[0].split("(")[0].lower()
    return _CONSTRAINTS.get(first, "[^/]+")


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))
