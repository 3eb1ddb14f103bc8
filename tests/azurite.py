"""Azurite, the storage emulator, as a pytest fixture: one process per test session.

Register with ``pytest_plugins = ["tests.azurite"]`` (or import the fixture). The binary
comes from MLOPS_AZURITE or ``.tools/node`` (``make tools``); without it the tests
that need it are skipped, or fail when MLOPS_REQUIRE_TOOLS=1 (as ``make test`` sets).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential

from tests.tools import missing_tool

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key: public by design, accepted by nothing else.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Azurite:
    blob_url: str  # http://127.0.0.1:PORT/devstoreaccount1
    table_url: str
    blob_port: int
    table_port: int

    @property
    def credential(self) -> AzureNamedKeyCredential:
        return AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY)

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_url};TableEndpoint={self.table_url};"
        )


def azurite_binary() -> Path | None:
    configured = os.environ.get("MLOPS_AZURITE")
    candidate = Path(configured) if configured else DEFAULT_BINARY
    if not candidate.is_absolute():
        candidate = REPO_ROOT / candidate
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    binary = azurite_binary()
    if binary is None:
        missing_tool("Azurite is not installed (make tools, or set MLOPS_AZURITE)")
    blob, queue, table = _free_ports(3)
    with tempfile.TemporaryDirectory(prefix="azurite-") as workspace:
        process = subprocess.Popen(
            [
                str(binary),
                *("--silent", "--disableTelemetry", "--skipApiVersionCheck"),
                "--inMemoryPersistence",
                *("--blobHost", "127.0.0.1", "--blobPort", str(blob)),
                *("--queueHost", "127.0.0.1", "--queuePort", str(queue)),
                *("--tableHost", "127.0.0.1", "--tablePort", str(table)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=workspace,  # in-memory persistence; anything Azurite still writes lands here
            start_new_session=True,
        )
        try:
            _wait_until_listening(process, (blob, table))
            yield Azurite(
                f"http://127.0.0.1:{blob}/{ACCOUNT}",
                f"http://127.0.0.1:{table}/{ACCOUNT}",
                blob,
                table,
            )
        finally:
            _stop(process)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_until_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"Azurite exited with {process.returncode}: {stderr[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Azurite did not listen on {waiting} within {START_TIMEOUT}s")
        try:
            socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the process group (node and anything it started); kill if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, 15)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    if process.stderr:
        process.stderr.close()
