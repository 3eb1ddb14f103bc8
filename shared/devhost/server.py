"""The local Functions host's HTTP side: EasyAuth in front, then the Event Grid webhook or
the app's HTTP functions. Request bodies are limited to 1 MiB (Content-Length checked before
reading, chunked bodies counted as they arrive), request targets to Azure's 4 KB, and the
whole request must arrive within ``request_timeout`` (framing.py)."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared.devhost import webhook
from shared.devhost.easyauth import (
    EasyAuth,
    Unauthenticated,
    requires_authentication,
    without_principal_headers,
)
from shared.devhost.framing import (
    MAX_REQUEST_LINE,
    MAX_TARGET_BYTES,
    BadBody,
    BodyTooLarge,
    DeadlineReader,
    UnsupportedCoding,
    read_body,
)
from shared.devhost.host_keys import HostKeys
from shared.devhost.messages import MAX_BODY_BYTES, Head, Prepared, Reply
from shared.devhost.routes import HttpFunctions, compile_routes

log = logging.getLogger("mlops.host")

_DRAIN_BYTES = 8 * MAX_BODY_BYTES
_DRAIN_SECONDS = 2.0
_EMPTY_LINES = 8  # RFC 9112 2.2: empty lines before a request line are ignored, a few of them
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.6.2: a method is a token
_CONTROLS = re.compile(r"[\x00-\x20\x7f]")


class LocalHost:
    """Decides what a request gets: EasyAuth first (as App Service runs it in front of the
    Functions host), then the webhook or the HTTP function its path names."""

    def __init__(
        self, functions: Mapping[str, Any], keys: HostKeys, auth: EasyAuth, prefix: str = "api"
    ) -> None:
        self._webhook = webhook.EventGridWebhook(functions, keys)
        self._http = HttpFunctions(compile_routes(functions, prefix), keys)
        self._auth = auth
        self._prefix = f"/{prefix}/" if prefix else "/"

    def prepare(self, head: Head) -> Prepared:
        headers = without_principal_headers(head.headers)
        if requires_authentication(head.path):
            try:
                principal = self._auth.principal_headers(head.header("authorization"))
            except Unauthenticated as why:
                log.info("401 %s %s: %s", head.method, head.path, why)
                return Reply.error(401, "authentication required", {"WWW-Authenticate": "Bearer"})
            headers += principal.items()
        head = replace(head, headers=tuple(headers))
        if head.path.rstrip("/") == webhook.PATH:
            return self._webhook.prepare(head)
        if head.path.startswith(self._prefix):
            return self._http.prepare(head)
        return Reply.error(404, "not found")


class HostServer(ThreadingHTTPServer):
    """One thread per request; counts the requests in flight so shutdown can wait for them."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], host: LocalHost, request_timeout: float = 10.0
    ) -> None:
        super().__init__(address, _Handler)
        self.host = host
        # The whole request, head and body, arrives within this or gets 408: a client that
        # stalls or drips bytes does not hold a thread for long.
        self.request_timeout = request_timeout
        self._in_flight = 0
        self._idle = threading.Condition()

    @property
    def url(self) -> str:
        """Where a local client reaches the server (loopback when bound to every address)."""
        host, port = self.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host!s}:{port}"  # noqa: S104

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the requests in flight to finish; False if some still run at the end."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


class _Handler(BaseHTTPRequestHandler):
    server: HostServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idles at shutdown
    server_version = "mlops-local-host"
    # Buffered: the status line, headers and body leave in one write at _send's flush, not
    # one per part (the standard library writes unbuffered by default; issue 15).
    wbufsize = 64 * 1024

    rfile: DeadlineReader

    def setup(self) -> None:
        super().setup()
        buffered = self.rfile
        if not isinstance(buffered, io.BufferedReader):  # what StreamRequestHandler makes
            raise TypeError("the connection is not read through a buffered reader")
        self.rfile = DeadlineReader(buffered, self.connection, self.server.request_timeout)

    def version_string(self) -> str:
        return self.server_version

    def handle_one_request(self) -> None:
        """The standard library's, without its gaps: a stalled request gets 408 (not silence),
        an HTTP/0.9 request, a method that is no token, a control character in the target or
        a header it could not parse gets 400, and every method goes to the routes (which
        answer 405 with Allow) instead of the standard library's HTML 501."""
        self.close_connection = True
        self.command = self.path = self.requestline = ""
        try:
            if not self._read_request_line():
                return  # the client closed without asking anything
            if not self.raw_requestline.strip():  # the standard library would say nothing
                self.send_error(HTTPStatus.BAD_REQUEST)
                return
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.parse_request():
                return  # parse_request has answered
            if len(self.path.encode("latin-1")) > MAX_TARGET_BYTES:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            elif self._malformed():
                self.send_error(HTTPStatus.BAD_REQUEST)
            else:
                self._serve()
        except TimeoutError:
            if self.rfile.received:  # a request began and stalled; an idle connection just ends
                with contextlib.suppress(OSError):
                    self.send_error(HTTPStatus.REQUEST_TIMEOUT)

    def _read_request_line(self) -> bool:
        """False when the connection ends before a request line (empty lines aside)."""
        for _ in range(_EMPTY_LINES + 1):
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if self.raw_requestline not in (b"\r\n", b"\n"):
                break
        return self.raw_requestline != b""

    def _malformed(self) -> bool:
        return (
            self.request_version == "HTTP/0.9"  # its answer would have no status line
            or not _TOKEN.fullmatch(self.command)
            or _CONTROLS.search(self.path) is not None
            or bool(self.headers.defects)  # e.g. a line that is no header ends the head early
            # RFC 9112 5.2: obs-fold (a line starting with a space) continues the previous
            # value; a server rejects it or unfolds it, and a CRLF must not reach a function.
            or any("\n" in value or "\r" in value for value in self.headers.values())
        )

    def _serve(self) -> None:
        with self.server.in_flight():
            try:
                reply, unread = self._handle()
            except Exception:
                log.exception("the host failed on %s %s", self.command, urlsplit(self.path).path)
                reply, unread = Reply.error(500, "internal error"), True
            self._send(reply)
            if unread and self._sends_body():
                self._drain()

    def _handle(self) -> tuple[Reply, bool]:
        prepared = self.server.host.prepare(self._head())
        if isinstance(prepared, Reply):
            return prepared, True
        try:
            body = read_body(self.rfile, self.headers, MAX_BODY_BYTES)
        except BodyTooLarge:
            return Reply.error(413, f"the body is over {MAX_BODY_BYTES} bytes"), True
        except UnsupportedCoding as error:
            return Reply.error(501, str(error)), True
        except BadBody as error:
            return Reply.error(400, str(error)), True
        except TimeoutError:  # the client stopped sending its body
            return Reply.error(408, "the body did not arrive in time"), True
        return prepared(body), False

    def _head(self) -> Head:
        parts = urlsplit(self.path)
        host, port = self.server.server_address[:2]
        return Head(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=tuple(self.headers.items()),
            url=f"http://{self.headers.get('Host') or f'{host!s}:{port}'}{self.path}",
        )

    def _send(self, reply: Reply) -> None:
        self.connection.settimeout(self.server.request_timeout)  # the reading deadline is over
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        self.wfile.flush()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the standard library calls on a request it cannot parse (400, 414, 431, 505):
        the JSON error every reply carries instead of its HTML page, with the standard
        phrase rather than ``message``, which may quote the request."""
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        # An unparsed request line leaves HTTP/0.9, which would send the body without a status
        # line or headers: a client learns nothing from that.
        self.request_version = self.protocol_version
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send(Reply.error(code, phrase.lower(), {"Connection": "close"}))
        self._drain()  # what is left of the request, so the client reads this, not a reset

    def _sends_body(self) -> bool:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        return chunked or (self.headers.get("Content-Length") or "0").strip() not in ("", "0")

    def _drain(self) -> None:
        """Read what is left of a refused body before closing, so the client gets to read
        our answer instead of a connection reset. The answer is complete: say so first."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(0.2)
        deadline, read = time.monotonic() + _DRAIN_SECONDS, 0
        with contextlib.suppress(OSError):
            while read < _DRAIN_BYTES and time.monotonic() < deadline:
                chunk = self.connection.recv(65536)
                if not chunk:
                    return
                read += len(chunk)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path only: a query string may carry a key (code=...). No path when the request
        # line could not be parsed.
        log.info("%s %s %s", self.command, urlsplit(getattr(self, "path", "")).path, code)

    def log_error(self, format: str, *args: Any) -> None:
        log.warning("http: " + format, *args)
