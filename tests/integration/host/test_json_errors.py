"""The local host never answers HTML: what schemathesis found (issue 16), kept as plain tests.

The standard library's server answers a method it has no ``do_<METHOD>`` for with an HTML
501, and a request it cannot parse with an HTML 400/414/431/505. The host answers every
method through the routes (405 with Allow, as JSON) and every unparsable request with the
JSON error body the rest of the host uses.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import azure.functions as func
import pytest

from shared.devhost.easyauth import EasyAuth
from shared.devhost.host_keys import EVENTGRID_KEY, HostKeys
from shared.devhost.server import HostServer, LocalHost

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="things/{name}", methods=["GET"])
def thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("{}", mimetype="application/json")


@app.route(route="things/{name}/notes", methods=["POST"])
def notes(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("{}", status_code=201, mimetype="application/json")


FUNCTIONS = {str(fn.get_function_name()): fn for fn in app.get_functions()}
KEYS = HostKeys("master-key", {"default": "function-key"}, {EVENTGRID_KEY: "eventgrid-key"})
AUTH = EasyAuth(b"a-test-signing-key-of-32-bytes!!")
TOKEN = f"Bearer {AUTH.issue('alice', ['MLOps.Deployer'])}"


@pytest.fixture(scope="module")
def server() -> Iterator[HostServer]:
    running = HostServer(("127.0.0.1", 0), LocalHost(FUNCTIONS, KEYS, AUTH), request_timeout=0.5)
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield running
    running.shutdown()
    running.server_close()
    thread.join()


def exchange(server: HostServer, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as it is (http.client would refuse most of these requests) and read the
    whole answer: status, headers (names in lower case), body."""
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as connection:
        connection.sendall(raw)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def request(method: str, path: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", f"Authorization: {TOKEN}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_json_error(headers: dict[str, str], body: bytes) -> None:
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert set(json.loads(body)) == {"error"}
    assert b"<" not in body


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "CONNECT", "PATCH", "BREW", "get"])
@pytest.mark.parametrize(
    ("path", "allow"),
    [("/api/things/a", "GET"), ("/api/things/a/notes", "POST")],
)
def test_an_undeclared_method_is_a_json_405_with_allow(
    server: HostServer, method: str, path: str, allow: str
) -> None:
    status, headers, body = exchange(server, request(method, path))
    assert (status, headers["allow"]) == (405, allow)
    assert_json_error(headers, body)


def test_the_webhook_answers_an_undeclared_method_with_405_too(server: HostServer) -> None:
    status, headers, body = exchange(server, request("TRACE", "/runtime/webhooks/eventgrid"))
    assert (status, headers["allow"]) == (405, "POST, OPTIONS")
    assert_json_error(headers, body)


@pytest.mark.parametrize("path", ["/admin/host/status", "/", "/nothing"])
def test_a_path_outside_the_routes_is_a_json_404_for_any_method(
    server: HostServer, path: str
) -> None:
    status, headers, body = exchange(server, request("TRACE", path))
    assert status == 404
    assert_json_error(headers, body)


def test_without_a_token_any_method_is_a_json_401(server: HostServer) -> None:
    status, headers, body = exchange(server, b"PROPFIND /api/things/a HTTP/1.1\r\n\r\n")
    assert (status, headers["www-authenticate"]) == (401, "Bearer")
    assert_json_error(headers, body)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /api/things/a HTTP/9.9\r\n\r\n", 505),
        (b"GET /api/things/a NOT-HTTP\r\n\r\n", 400),
        (b"GET /api/things/<script> HTTP/1.1 extra\r\n\r\n", 400),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /api/things/a HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"GET /api/things/a HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n", 431),
    ],
    ids=["version", "bad-version", "extra-words", "uri-too-long", "headers", "header-line"],
)
def test_a_request_the_server_cannot_parse_gets_json(
    server: HostServer, raw: bytes, status: int
) -> None:
    answered, headers, body = exchange(server, raw)
    assert answered == status
    assert_json_error(headers, body)
    assert b"script" not in body  # nothing of the request is quoted back


def test_a_body_that_stalls_is_a_json_408(server: HostServer) -> None:
    raw = request("POST", "/api/things/a/notes", "Content-Length: 100") + b"{"
    status, headers, body = exchange(server, raw)  # then silence: the server's timeout answers
    assert status == 408
    assert_json_error(headers, body)
