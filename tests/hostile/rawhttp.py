"""A local host with a tiny app, and raw bytes to and from it: what http.client would refuse
to send is exactly what these tests send."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import azure.functions as func

from shared.devhost.easyauth import EasyAuth
from shared.devhost.host_keys import EVENTGRID_KEY, HostKeys
from shared.devhost.server import HostServer, LocalHost

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="echo", methods=["POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """What the function received: the body's length and digest, and its headers' names."""
    body = req.get_body()
    answer = {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    return func.HttpResponse(json.dumps(answer), status_code=201, mimetype="application/json")


FUNCTIONS = {str(fn.get_function_name()): fn for fn in app.get_functions()}
KEYS = HostKeys("master-key", {"default": "function-key"}, {EVENTGRID_KEY: "eventgrid-key"})
AUTH = EasyAuth(b"a-test-signing-key-of-32-bytes!!")
TOKEN = f"Bearer {AUTH.issue('alice', ['MLOps.Deployer'])}"
DEADLINE = 0.5  # the host's request_timeout in these tests


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no status line came back
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> object:
        return json.loads(self.body)


@contextmanager
def running_host(
    functions: dict[str, object] | None = None, request_timeout: float = DEADLINE
) -> Iterator[HostServer]:
    host = LocalHost(functions or FUNCTIONS, KEYS, AUTH)
    server = HostServer(("127.0.0.1", 0), host, request_timeout=request_timeout)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def exchange(server: HostServer, *pieces: bytes, pause: float = 0.0, close: bool = False) -> Answer:
    """Send ``pieces`` with ``pause`` seconds between them (``close``: then end the sending
    side) while reading the answer; ``seconds`` is when it began to arrive (or ended)."""
    host, port = server.server_address[:2]
    started = time.monotonic()
    answered = threading.Event()
    with socket.create_connection((str(host), port), timeout=15) as connection:

        def send() -> None:
            try:
                for index, piece in enumerate(pieces):
                    if index and pause and answered.wait(pause):
                        return  # the host has answered: a client would stop here
                    connection.sendall(piece)
                if close:
                    connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the host answered and closed first

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received, first = b"", 0.0
        try:
            while chunk := connection.recv(65536):
                first = first or time.monotonic()
                answered.set()
                received += chunk
        except ConnectionResetError:
            pass
        answered.set()
        sender.join()
    seconds = (first or time.monotonic()) - started
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    if not status_line.startswith("HTTP/"):
        return Answer(0, {}, received, seconds)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body, seconds)


def head(method: str = "POST", target: str = "/api/echo", *extra: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", f"Authorization: {TOKEN}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def is_json_error(answer: Answer) -> bool:
    try:
        document = answer.json()
    except ValueError:
        return False
    return (
        answer.headers.get("content-type") == "application/json; charset=utf-8"
        and isinstance(document, dict)
        and set(document) == {"error"}
    )
