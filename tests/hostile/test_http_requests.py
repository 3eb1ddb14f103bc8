"""Request lines, heads and slow clients (issue 12, section 3), over raw sockets.

A malformed request line or head gets a JSON 400 (414 for a target over Azure's 4 KB), never
silence, an answer without a status line, or a traceback; a request that stalls or drips in
gets a 408 once the host's deadline for the whole request passes, so no client holds a
thread for long. An idle connection is closed without an answer: it asked nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.devhost.framing import MAX_TARGET_BYTES
from shared.devhost.server import HostServer
from tests.hostile.rawhttp import DEADLINE, TOKEN, exchange, head, is_json_error, running_host

SLACK = 1.5  # seconds past the deadline an answer may take on a busy machine


@pytest.fixture(scope="module")
def server() -> Iterator[HostServer]:
    with running_host() as running:
        yield running


REQUEST_LINES = {
    "http-0.9": b"GET /api/echo\r\n\r\n",
    "one-word": b"GET\r\n\r\n",
    "blank": b"   \r\n\r\n",
    "nine-empty-lines": b"\r\n" * 9 + b"POST /api/echo HTTP/1.1\r\n\r\n",
    "four-words": b"POST /api/echo HTTP/1.1 x\r\n\r\n",
    "method-not-a-token": b"PO(ST /api/echo HTTP/1.1\r\n\r\n",
    "method-with-escape": b"\x1b[2J /api/echo HTTP/1.1\r\n\r\n",
    "method-with-nul": b"POST\x00 /api/echo HTTP/1.1\r\n\r\n",
    "method-non-ascii": "PÖST /api/echo HTTP/1.1\r\n\r\n".encode(),
    "control-in-target": b"POST /api/echo\x01 HTTP/1.1\r\n\r\n",
    "nul-in-target": b"POST /api/\x00echo HTTP/1.1\r\n\r\n",
    "del-in-target": b"POST /api/echo\x7f HTTP/1.1\r\n\r\n",
    "bad-version": b"POST /api/echo HTTP/x.y\r\n\r\n",
    "lowercase-version": b"POST /api/echo http/1.1\r\n\r\n",
    "line-without-colon": head("POST", "/api/echo", "Garbage", "Content-Length: 2") + b"{}",
    "space-before-colon": head("POST", "/api/echo", "Content-Length : 2") + b"{}",
    "obs-fold": head("POST", "/api/echo", "X-A: b", " folded: on") + b"",
    "fold-after-host": b"POST /api/echo HTTP/1.1\r\nHost: x\r\n\tmore\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(REQUEST_LINES))
def test_a_malformed_request_line_or_head_is_a_json_400(server: HostServer, case: str) -> None:
    answer = exchange(server, REQUEST_LINES[case], close=True)
    assert answer.status == 400
    assert is_json_error(answer)


def test_empty_lines_before_a_request_are_ignored(server: HostServer) -> None:
    answer = exchange(server, b"\r\n\r\n" + head("POST", "/api/echo", "Content-Length: 2") + b"{}")
    assert answer.status == 201


@pytest.mark.parametrize(
    ("target_length", "status"),
    [(MAX_TARGET_BYTES, 201), (MAX_TARGET_BYTES + 1, 414), (65536, 414), (70000, 414)],
)
def test_a_target_over_azures_4_kb_is_a_414(
    server: HostServer, target_length: int, status: int
) -> None:
    target = "/api/echo?pad=" + "p" * (target_length - len("/api/echo?pad="))
    answer = exchange(server, head("POST", target, "Content-Length: 2") + b"{}", close=True)
    assert answer.status == status
    if status != 201:
        assert is_json_error(answer)


def test_a_body_shorter_than_its_length_is_a_400_when_the_client_closes(
    server: HostServer,
) -> None:
    answer = exchange(server, head("POST", "/api/echo", "Content-Length: 100") + b"{", close=True)
    assert answer.status == 400
    assert answer.seconds < SLACK


STALLS = {
    "body-shorter-than-length": [head("POST", "/api/echo", "Content-Length: 100") + b"{"],
    "chunked-without-end": [head("POST", "/api/echo", "Transfer-Encoding: chunked") + b"5\r\n"],
    "head-without-end": [b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"],
    "request-line-without-end": [b"POST /api/ec"],
    "only-empty-lines": [b"\r\n"],
}


@pytest.mark.parametrize("case", sorted(STALLS))
def test_a_stalled_request_is_a_408_at_the_deadline(server: HostServer, case: str) -> None:
    answer = exchange(server, *STALLS[case])
    assert answer.status == 408
    assert is_json_error(answer)
    assert DEADLINE <= answer.seconds < DEADLINE + SLACK


def drip(data: bytes, count: int) -> list[bytes]:
    return [data[i : i + 1] for i in range(min(count, len(data)))]


DRIPS = {
    # One byte every 0.1 s: each read succeeds well within any per-read timeout, so only a
    # deadline for the whole request stops these.
    "body": [head("POST", "/api/echo", "Content-Length: 40"), *drip(b"x" * 40, 40)],
    "chunked-body": [
        head("POST", "/api/echo", "Transfer-Encoding: chunked"),
        *drip(b"1\r\nx\r\n" * 10, 60),
    ],
    "head": drip(head("POST", "/api/echo", "X-Slow: " + "s" * 60), 80),
    "request-line": drip(b"POST /api/" + b"e" * 60 + b" HTTP/1.1\r\n\r\n", 80),
}


@pytest.mark.parametrize("case", sorted(DRIPS))
def test_a_request_that_drips_in_is_a_408_at_the_deadline(server: HostServer, case: str) -> None:
    answer = exchange(server, *DRIPS[case], pause=0.1)
    assert answer.status == 408
    assert is_json_error(answer)
    assert answer.seconds < DEADLINE + SLACK


def test_an_idle_connection_is_closed_without_an_answer(server: HostServer) -> None:
    answer = exchange(server)  # connect, send nothing
    assert (answer.status, answer.body) == (0, b"")
    assert DEADLINE <= answer.seconds < DEADLINE + SLACK


def test_the_host_still_serves_after_all_of_that(server: HostServer) -> None:
    answer = exchange(server, head("POST", "/api/echo", "Content-Length: 2") + b"{}")
    assert answer.status == 201
    assert TOKEN not in answer.body.decode()
