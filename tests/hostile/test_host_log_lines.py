"""The host log cannot be forged or turned against the terminal it is tailed in (issue 12,
section 4): `mlops -v serve` runs as a real process, hostile request lines and events reach
it over real sockets, and its stderr is read back byte for byte."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.adapters.project_files import REPO_ROOT
from shared.devhost.host_keys import load_keys
from shared.logging_setup import configure_logging
from shared.ops.cli.commands.host import READY
from tests.hostile.test_terminal_escaping import HOSTILE, inert

FORGED = "2026-01-01 00:00:00,000 CRITICAL"
# What the request line can carry: http.server reads it as Latin-1, so any byte but LF.
RAW_PATHS = (
    b"/api/\x1b[2J\x1b[H",
    b"/api/a\rb\x1b[Kforged",
    b"/api/\x85next\xc2\x9b31m",
    b"/api/\xe2\x80\xaegnp.exe",  # U+202E as UTF-8 bytes: Latin-1 makes C1 characters of them
    b"/api/endpoints/\x07\x08\x7f\x00",
    b"/runtime/webhooks/eventgrid\x1b]0;title\x07",
)


@dataclass
class Host:
    process: subprocess.Popen[str]
    url: str
    home: Path

    @property
    def log(self) -> bytes:
        return (self.home / "host.log").read_bytes()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """`mlops -v serve`: INFO too, so every request line is logged."""
    env = {**os.environ, "MLOPS_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    with (tmp_path / "host.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.ops.cli", "-v", "serve", "--port", "0"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    deadline, url = time.monotonic() + 60, ""
    while not url and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        line = process.stdout.readline() if ready else ""
        url = line[len(READY) :].strip() if line.startswith(READY) else ""
    try:
        assert url, (tmp_path / "host.log").read_text(errors="replace")[-3000:]
        yield Host(process, url, tmp_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def raw_request(url: str, head: bytes, body: bytes = b"") -> bytes:
    """One request exactly as given (no client library would send these lines)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=30) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def request_line(method: bytes, path: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{name}: {value}".encode() for name, value in (headers or {}).items()]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def hostile_event(index: int, text: str) -> dict[str, object]:
    """A BlobCreated the app refuses (its topic and URL are not ours); the id is logged."""
    return {
        "id": f"id-{index}-{text}\n{FORGED} mlops.events forged record",
        "topic": f"/subscriptions/x/{text}",
        "subject": f"/blobServices/default/containers/c/blobs/{text}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-26T10:00:00Z",
        "data": {"url": "https://evil.example/c/x.csv", "contentLength": 1},
    }


def test_hostile_paths_and_event_ids_leave_one_inert_line_each(host: Host) -> None:
    for path in RAW_PATHS:
        for method in (b"GET", b"POST"):
            answer = raw_request(host.url, request_line(method, path, {"Content-Length": "0"}))
            assert answer.startswith(b"HTTP/1.")  # answered, whatever it was
    key = load_keys(host.home).eventgrid
    body = json.dumps([hostile_event(i, text) for i, text in enumerate(HOSTILE)]).encode()
    headers = {"Content-Type": "application/json", "x-functions-key": key}
    headers["Content-Length"] = str(len(body))
    webhook = b"/runtime/webhooks/eventgrid?functionName=on_blob_created"
    answer = raw_request(host.url, request_line(b"POST", webhook, headers), body)
    assert answer.split(b"\r\n", 1)[0].endswith(b"200 OK")  # refused events are acknowledged
    host.process.send_signal(signal.SIGTERM)
    host.process.wait(60)

    log = host.log
    assert inert(log) == []
    lines = log.decode().splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    assert sum("rejected event id-" in line for line in lines) == len(HOSTILE)
    assert b"\\x1b[2J" in log  # the paths are there, escaped


def test_a_traceback_keeps_its_lines_but_an_exception_message_forges_none() -> None:
    configure_logging()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log = logging.getLogger("tests.hostile.traceback")
    log.addHandler(handler)
    try:
        for text in HOSTILE:
            try:
                raise ValueError(f"bad event {text}\n{FORGED} forged")
            except ValueError as error:
                error.add_note(f"note {text}\n{FORGED} forged note")
                log.exception("failed on %s", text)
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert inert(written.encode()) == []
    assert not [line for line in written.splitlines() if line.startswith(FORGED)]
    headers = [line for line in written.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(headers) == len(HOSTILE)
    assert written.count("Traceback (most recent call last):") == len(HOSTILE)
