"""A recording azure-core transport and a fake credential for SDK contract tests.

Real Azure SDK clients are built with ``transport=RecordingTransport()`` and
``credential=FakeCredential()``: every request they send is recorded (method, URL,
headers, body) and answered from canned responses routed by method + URL regex, so a
test asserts exactly what the SDK put on the wire. A request no route answers raises
AssertionError naming it. ``forward`` sends matching requests to a real server instead
(e.g. Azurite), after rewriting the URL.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.pipeline.transport import RequestsTransportResponse as _LegacyResponse
from azure.core.rest import HttpRequest as RestHttpRequest
from azure.core.rest._requests_basic import RestRequestsTransportResponse as _RestResponse


@dataclass(frozen=True)
class Canned:
    """One response: ``body`` may be JSON-able (sent as application/json), bytes or str."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            return self.body.encode(), headers
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return json.dumps(self.body).encode(), headers


def error(status: int, code: str, message: str, **headers: str) -> Canned:
    """An ARM-shaped error response (``{"error": {"code", "message"}}``)."""
    body = {"error": {"code": code, "message": message}}
    return Canned(status, body, {"x-ms-error-code": code, **headers})


@dataclass(frozen=True)
class Recorded:
    """One request as sent."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.url).query).items()}

    def json(self) -> Any:
        assert self.body, f"{self.method} {self.url} has no body"
        return json.loads(self.body)


# A canned response, or a function of the request that builds one (e.g. to echo a PUT body).
Response = Canned | Callable[[Recorded], Canned]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    responses: deque[Response]
    repeat: bool  # the last response answers every further match
    forward: Callable[[Any], Any] | None = None

    def matches(self, method: str, url: str) -> bool:
        return self.method in ("*", method) and self.pattern.search(url) is not None

    def take(self) -> Response:
        if self.repeat and len(self.responses) == 1:
            return self.responses[0]
        return self.responses.popleft()

    @property
    def exhausted(self) -> bool:
        return self.forward is None and not self.responses


class RecordingTransport(HttpTransport):  # type: ignore[type-arg]
    """Routes are tried in the order added; a route with no responses left is skipped."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.sleeps: list[float] = []
        self._routes: list[_Route] = []

    def add(self, method: str, url_regex: str, *responses: Response, repeat: bool = False) -> None:
        """Answer ``method`` requests whose full URL matches ``url_regex`` with ``responses``
        in turn (``repeat``: keep answering with the last one)."""
        assert responses, "a route needs at least one response"
        self._routes.append(_Route(method, re.compile(url_regex), deque(responses), repeat))

    def forward(self, url_regex: str, rewrite: Callable[[str], str]) -> None:
        """Send matching requests, URL rewritten, to a real server over HTTP."""
        real = RequestsTransport()

        def send(request: Any) -> Any:
            request.url = rewrite(request.url)
            return real.send(request)

        self._routes.append(_Route("*", re.compile(url_regex), deque(), False, send))

    def send(self, request: Any, **kwargs: Any) -> Any:
        method, url = request.method.upper(), request.url
        recorded = Recorded(method, url, dict(request.headers), _body_of(request))
        self.requests.append(recorded)
        route = next((r for r in self._routes if r.matches(method, url) and not r.exhausted), None)
        if route is None:
            raise AssertionError(f"unexpected request {method} {url}\n{self._describe()}")
        if route.forward is not None:
            return route.forward(request)
        response = route.take()
        return _response(request, response if isinstance(response, Canned) else response(recorded))

    def sent(self, method: str = "*", url_regex: str = "") -> list[Recorded]:
        """The recorded requests matching ``method`` (``*`` for any) and ``url_regex``."""
        pattern = re.compile(url_regex)
        return [
            r
            for r in self.requests
            if method in ("*", r.method) and pattern.search(r.url) is not None
        ]

    def one(self, method: str, url_regex: str) -> Recorded:
        found = self.sent(method, url_regex)
        got = f"expected one {method} {url_regex}, got {len(found)}:\n{self._log()}"
        assert len(found) == 1, got
        return found[0]

    def assert_consumed(self) -> None:
        """Every canned (non-repeating) response was used."""
        left = [r for r in self._routes if r.forward is None and r.responses and not r.repeat]
        unused = ", ".join(f"{r.method} {r.pattern.pattern}" for r in left)
        assert not left, f"unused routes: {unused}"

    def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)  # retry back-off is recorded, not waited

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> RecordingTransport:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def _describe(self) -> str:
        open_routes = [r for r in self._routes if not r.exhausted]
        routes = "\n".join(f"  {r.method} {r.pattern.pattern}" for r in open_routes)
        return f"open routes:\n{routes or '  (none)'}\nsent so far:\n{self._log()}"

    def _log(self) -> str:
        return "\n".join(f"  {r.method} {r.url}" for r in self.requests) or "  (nothing)"


def _body_of(request: Any) -> bytes | None:
    data = request.content if isinstance(request, RestHttpRequest) else request.data
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, Mapping):  # form fields, as the requests transport encodes them
        fields = [(k, v.value if isinstance(v, Enum) else v) for k, v in data.items()]
        return urlencode([(k, v) for k, v in fields if v is not None]).encode()
    if hasattr(data, "read") and hasattr(data, "seek"):
        start = data.tell()
        raw = data.read()
        data.seek(start)  # leave the stream where the SDK (or a forward) expects it
        return raw if isinstance(raw, bytes) else str(raw).encode()
    return repr(data).encode()  # multipart / generator bodies: recorded by description only


def _response(request: Any, canned: Canned) -> Any:
    body, headers = canned.encoded()
    internal = requests.Response()
    internal.status_code = canned.status
    internal.reason = HTTPStatus(canned.status).phrase
    internal.headers.update({"Content-Length": str(len(body)), **headers})
    internal.raw = io.BytesIO(body)
    internal.url = request.url
    if isinstance(request, RestHttpRequest):
        rest_response = cast(Any, _RestResponse)
        response = rest_response(request=request, internal_response=internal, block_size=4096)
        response.read()
        return response
    return _LegacyResponse(request, internal, 4096)


@dataclass
class FakeCredential:
    """A TokenCredential that hands out a fixed token and records the scopes asked for."""

    token: str = "fake-token"
    scopes: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo(self.token, int(time.time()) + 3600)

    def requested(self) -> set[str]:
        return {scope for scopes in self.scopes for scope in scopes}

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeCredential:
        return self

    def __exit__(self, *args: object) -> None:
        pass


def iter_json(recorded: list[Recorded]) -> Iterator[Any]:
    """The JSON bodies of ``recorded`` requests, skipping empty ones."""
    return (r.json() for r in recorded if r.body)
