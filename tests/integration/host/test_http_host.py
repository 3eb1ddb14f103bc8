"""The host's HTTP side in process, serving a small app defined here: route templates,
methods, auth levels, limits, and the EasyAuth contract the manual API relies on.

The host is generic (it serves whatever a FunctionApp registers), so a test app whose
functions echo what they receive shows exactly what the host hands a function; the real
app's routes are exercised through `mlops serve` in test_real_api.py.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import jwt
import pytest

from shared.devhost.easyauth import AUDIENCE, ISSUER, OID_CLAIM, EasyAuth, default_oid
from shared.devhost.host_keys import EVENTGRID_KEY, HostKeys
from shared.devhost.messages import MAX_BODY_BYTES
from shared.devhost.server import HostServer, LocalHost
from tests.integration.host.hostproc import Response, http

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(req: func.HttpRequest) -> func.HttpResponse:
    seen = {
        "method": req.method,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "headers": {k.lower(): v for k, v in req.headers.items()},
        "body_bytes": len(req.get_body()),
    }
    return func.HttpResponse(json.dumps(seen), mimetype="application/json")


@app.route(route="whoami", methods=["GET", "POST"])
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="items/{id:int}", methods=["GET", "DELETE"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="items/special", methods=["GET"])
def special(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("special")


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="keyed", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def keyed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("keyed")


@app.route(route="admin", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin")


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("internal detail: /srv/secret/path")


# /api/slow holds its request until the test lets it go: a request in flight, on cue.
SLOW_ENTERED, SLOW_RELEASED = threading.Event(), threading.Event()


@app.route(route="slow", methods=["GET"])
async def slow(req: func.HttpRequest) -> str:
    SLOW_ENTERED.set()
    SLOW_RELEASED.wait(10)
    return "finished"


FUNCTIONS = {str(fn.get_function_name()): fn for fn in app.get_functions()}
KEYS = HostKeys("master-key", {"default": "function-key"}, {EVENTGRID_KEY: "eventgrid-key"})
SIGNING_KEY = b"a-test-signing-key-of-32-bytes!!"
AUTH = EasyAuth(SIGNING_KEY)
ALICE = default_oid("alice")


@pytest.fixture(scope="module")
def server() -> Iterator[HostServer]:
    running = HostServer(("127.0.0.1", 0), LocalHost(FUNCTIONS, KEYS, AUTH))
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alice(**extra: str) -> dict[str, str]:
    return {**bearer(AUTH.issue("alice", ["MLOps.Reader", "MLOps.Deployer"])), **extra}


def get(server: HostServer, path: str, headers: dict[str, str] | None = None) -> Response:
    return http("GET", server.url + path, headers=headers)


def forged_principal() -> str:
    claims = [{"typ": OID_CLAIM, "val": "mallory"}, {"typ": "roles", "val": "MLOps.Deployer"}]
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_a_valid_token_sets_the_principal_headers_as_app_service_does(
    server: HostServer,
) -> None:
    seen = get(server, "/api/whoami", alice()).json()["headers"]
    assert seen["x-ms-client-principal-id"] == ALICE
    assert seen["x-ms-client-principal-name"] == "alice"
    assert seen["x-ms-client-principal-idp"] == "aad"
    principal = json.loads(base64.b64decode(seen["x-ms-client-principal"]))
    assert {k: v for k, v in principal.items() if k != "claims"} == {
        "auth_typ": "aad",
        "name_typ": "name",
        "role_typ": "roles",
    }
    claims = [(c["typ"], c["val"]) for c in principal["claims"]]
    assert (OID_CLAIM, ALICE) in claims
    assert ("name", "alice") in claims
    assert [v for t, v in claims if t == "roles"] == ["MLOps.Reader", "MLOps.Deployer"]
    assert {t for t, _ in claims} >= {"aud", "iss", "iat", "exp"}
    assert ("aud", AUDIENCE) in claims and ("iss", ISSUER) in claims


def test_client_sent_principal_headers_are_always_removed(server: HostServer) -> None:
    forged = {
        "X-MS-CLIENT-PRINCIPAL": forged_principal(),
        "X-MS-CLIENT-PRINCIPAL-ID": "mallory",
        "x-ms-client-principal-name": "mallory",
        "X-Ms-Client-Principal-Extra": "anything",
    }
    assert get(server, "/api/whoami", forged).status == 401  # no token: never reaches it
    seen = get(server, "/api/whoami", alice(**forged)).json()["headers"]
    assert seen["x-ms-client-principal-id"] == ALICE
    assert "mallory" not in json.dumps(seen)
    assert "x-ms-client-principal-extra" not in seen
    public = get(server, "/api/openapi.json", forged).json()["headers"]  # excluded path
    assert not [k for k in public if k.startswith("x-ms-client-principal")]


def test_an_excluded_path_is_public_and_gets_no_principal(server: HostServer) -> None:
    seen = get(server, "/api/openapi.json", alice()).json()["headers"]
    assert not [k for k in seen if k.startswith("x-ms-client-principal")]


def _token(claims: dict[str, Any], key: bytes = SIGNING_KEY, alg: str = "HS256") -> str:
    now = int(time.time())
    base = {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600, "oid": ALICE}
    return jwt.encode({**base, **claims}, key, algorithm=alg)


def _unsigned() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    now = int(time.time())
    body = {"aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600, "oid": ALICE}
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer ",
        "Bearer not-a-jwt",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        f"Bearer {_token({}, key=b'another-key-another-key-another!')}",
        f"Bearer {_token({'exp': int(time.time()) - 60})}",
        f"Bearer {_token({'aud': 'api://someone-else'})}",
        f"Bearer {_token({'iss': 'https://login.microsoftonline.com/x/v2.0'})}",
        f"Bearer {_token({'oid': None})}",
        f"Bearer {_unsigned()}",
    ],
    ids=[
        "none",
        "empty",
        "garbage",
        "basic",
        "other-key",
        "expired",
        "audience",
        "issuer",
        "no-oid",
        "alg-none",
    ],
)
def test_requests_without_a_valid_token_get_401(server: HostServer, authorization: str) -> None:
    answer = get(server, "/api/whoami", {"Authorization": authorization} if authorization else {})
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert set(answer.json()) == {"error"}


def test_route_parameters_and_constraints(server: HostServer) -> None:
    seen = get(server, "/api/items/42?x=1&x=2", alice()).json()
    assert seen["route_params"] == {"id": "42"}
    assert seen["params"] == {"x": "1"}
    assert get(server, "/api/items/forty-two", alice()).status == 404  # {id:int}
    assert get(server, "/api/ITEMS/special", alice()).body == b"special"  # literal first
    deep = get(server, "/api/files/a/b%20c.txt", alice()).json()
    assert deep["route_params"] == {"path": "a/b c.txt"}


def test_unknown_routes_and_wrong_methods(server: HostServer) -> None:
    assert get(server, "/api/nothing-here", alice()).status == 404
    assert get(server, "/elsewhere", alice()).status == 404
    answer = http("PUT", server.url + "/api/items/1", b"{}", alice())
    assert answer.status == 405
    assert answer.headers["Allow"] == "DELETE, GET"


def test_auth_levels_need_their_keys(server: HostServer) -> None:
    assert get(server, "/api/keyed", alice()).status == 401
    assert get(server, "/api/keyed?code=wrong", alice()).status == 401
    assert get(server, "/api/keyed?code=function-key", alice()).body == b"keyed"
    assert get(server, "/api/keyed", alice(**{"x-functions-key": "master-key"})).status == 200
    assert get(server, "/api/keyed?code=eventgrid-key", alice()).status == 401
    assert get(server, "/api/admin?code=function-key", alice()).status == 401
    assert get(server, "/api/admin?code=master-key", alice()).body == b"admin"


def test_the_body_limit_applies_to_functions(server: HostServer) -> None:
    url = server.url + "/api/whoami"
    at_limit = http("POST", url, b"x" * MAX_BODY_BYTES, alice())
    assert at_limit.json()["body_bytes"] == MAX_BODY_BYTES
    assert http("POST", url, b"x" * (MAX_BODY_BYTES + 1), alice()).status == 413


def test_a_failing_function_answers_500_without_detail(server: HostServer) -> None:
    answer = get(server, "/api/boom", alice())
    assert answer.status == 500
    assert b"secret" not in answer.body and b"RuntimeError" not in answer.body


def test_shutdown_lets_a_request_in_flight_finish() -> None:
    running = HostServer(("127.0.0.1", 0), LocalHost(FUNCTIONS, KEYS, AUTH))
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    answers: list[Response] = []
    client = threading.Thread(target=lambda: answers.append(get(running, "/api/slow", alice())))
    client.start()
    assert SLOW_ENTERED.wait(10)  # the request is inside the (async) function now
    running.shutdown()
    running.server_close()
    SLOW_RELEASED.set()  # only now may it finish: it was in flight all through the shutdown
    assert running.wait_idle(10)
    client.join()
    thread.join()
    assert [(a.status, a.body) for a in answers] == [(200, b"finished")]
