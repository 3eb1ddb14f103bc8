"""Running `mlops serve` as a real process, and talking to it over real HTTP."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.adapters.clock import SystemClock
from shared.adapters.local import system_events as topics
from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.adapters.local.backend import local_topic
from shared.adapters.local.blob_store import LocalBlobStore
from shared.adapters.project_files import REPO_ROOT
from shared.devhost.host_keys import HostKeys, load_keys
from shared.domain.audit import AuditRecord
from shared.ops.cli.commands.host import READY
from shared.settings import Settings

WEBHOOK = "/runtime/webhooks/eventgrid"


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    request = urllib.request.Request(  # noqa: S310 (tests call the local host)
        url, data=body, method=method, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return Response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers.items()), error.read())


@dataclass
class HostProcess:
    process: subprocess.Popen[str]
    url: str
    home: Path
    started_in: float

    @property
    def keys(self) -> HostKeys:
        return load_keys(self.home)

    @property
    def log(self) -> str:
        return (self.home / "host.log").read_text(errors="replace")

    def deliver(
        self, function: str, body: Any, headers: Mapping[str, str] | None = None
    ) -> Response:
        """POST a JSON body to the webhook with the eventgrid_extension key."""
        sent = {"Content-Type": "application/json", "x-functions-key": self.keys.eventgrid}
        return http(
            "POST",
            f"{self.url}{WEBHOOK}?functionName={function}",
            json.dumps(body).encode(),
            {**sent, **(headers or {})},
        )

    def blob_event(self, blob_path: str, data: bytes, content_type: str = "text/csv") -> Any:
        """Write a blob where the host's local storage keeps it; the event Storage would send."""
        settings = Settings(home=self.home)
        store = LocalBlobStore(
            self.home / "blobs", settings.storage_account_url, settings.training_container
        )
        props = store.upload(blob_path, data, content_type)
        return topics.blob_created(
            local_topic(settings, "Microsoft.Storage/storageAccounts"), props
        )

    def audit(self, **filters: Any) -> list[AuditRecord]:
        sink = SqliteAuditSink(self.home / "audit.db", SystemClock())
        try:
            return sink.records(**filters)
        finally:
            sink.close()

    def wait_for_audit(self, action: str, timeout: float = 60.0) -> AuditRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.audit(action_prefix=action):
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no {action} audit record after {timeout}s:\n{self.log[-3000:]}")

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def start_host(home: Path, *args: str, env: Mapping[str, str] | None = None) -> HostProcess:
    """`mlops serve --port 0` in its own process; returns once it prints its URL."""
    home.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "MLOPS_HOME": str(home), **(env or {})}
    started = time.monotonic()
    with (home / "host.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.ops.cli", "serve", "--port", "0", *args],
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert process.stdout is not None
    deadline = started + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        line = process.stdout.readline() if ready else ""
        if line.startswith(READY):
            url = line[len(READY) :].strip()
            return HostProcess(process, url, home, time.monotonic() - started)
        if process.poll() is not None:
            break
    process.kill()
    process.wait()
    raise AssertionError(f"the host did not start:\n{(home / 'host.log').read_text()[-3000:]}")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc (children re-parented later are not ours)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def cmdline(pid: int) -> bytes:
    """The process's command line; empty once it is gone (or a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return b"" if state == "Z" else Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return b""
