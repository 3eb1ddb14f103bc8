"""OpenTelemetry export to Application Insights with Entra ID auth, end to end in a subprocess:
the function host's start-up path, the managed identity credential, the exporter and the
Logs Ingestion upload all talk to a loopback HTTPS stand-in for Azure. Every record is
exported once: audit events by the app's exporter, its other log lines by the host (which
gets them from the worker's root handler), never both."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters.azure.telemetry import HOST_JSON, configure_from_environment, host_exporter
from shared.adapters.project_files import REPO_ROOT
from tests.azurite import Azurite
from tests.contract import loopback_https
from tests.contract.loopback_https import TOKEN, LoopbackAzure

CLIENT_ID = "7c0d7a2e-0000-4000-8000-00000000c1d0"
SECRET = "c2VjcmV0LWtleS1kby1ub3QtbG9n"


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[LoopbackAzure]:
    server = loopback_https.start(tmp_path)
    yield server
    server.close()


def run_probe(loopback: LoopbackAzure, azurite: Azurite, event_id: str) -> list[dict[str, str]]:
    """Run the probe; return the records the stand-in for the worker's handler saw."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "AZURE_"))},
        "APPLICATIONINSIGHTS_CONNECTION_STRING": (
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint={loopback.url}/"
        ),
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "IDENTITY_ENDPOINT": f"{loopback.url}/msi/token",  # as App Service sets them
        "IDENTITY_HEADER": "probe-header",
        "AZURE_CLIENT_ID": CLIENT_ID,
        "REQUESTS_CA_BUNDLE": str(loopback.ca_file),
        "NO_PROXY": "127.0.0.1",
        "PROBE_TABLE_URL": azurite.table_url,
        "PROBE_INGESTION_URL": loopback.url,
        "PROBE_SECRET": SECRET,
        "MLOPS_STORAGE_ACCOUNT_URL": "https://contosodata.blob.core.windows.net",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.contract.telemetry_probe", event_id],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_audit_events_and_handler_logs_reach_application_insights(
    loopback: LoopbackAzure, azurite: Azurite
) -> None:
    event_id = str(uuid.uuid4())
    forwarded = run_probe(loopback, azurite, event_id)

    tracks = loopback.requests("/v2.1/track")
    assert tracks, [s.path for s in loopback.seen]
    assert {t.headers["Authorization"] for t in tracks} == {f"Bearer {TOKEN}"}
    items = [item for t in tracks for item in t.json_items()]
    audit_events = [
        i
        for i in items
        if i["data"]["baseType"] == "EventData" and i["data"]["baseData"]["name"] == "mlops.audit"
    ]
    assert any(
        e["data"]["baseData"]["properties"]["correlation_id"] == event_id for e in audit_events
    ), audit_events
    # The app's log lines go to the host (once), not through this exporter as well ...
    exported_lines = [i for i in items if i["data"]["baseType"] == "MessageData"]
    assert exported_lines == []
    messages = [r["message"] for r in forwarded if r["name"].startswith("mlops.")]
    assert any(event_id in m and "rejected event" in m for m in messages), forwarded
    assert any("AccountKey=***" in m for m in messages), forwarded
    # ... and the audit events the exporter sends never reach the host too.
    assert not [r for r in forwarded if r["name"] == "mlops.audit"], forwarded

    token_requests = loopback.requests("/msi/token")
    assert token_requests and {r.query["client_id"] for r in token_requests} == {CLIENT_ID}
    assert {r.headers["X-IDENTITY-HEADER"] for r in token_requests} == {"probe-header"}
    assert "https://monitor.azure.com" in {r.query["resource"].rstrip("/") for r in token_requests}

    (upload,) = loopback.requests("/dataCollectionRules/")
    assert upload.headers["Authorization"] == f"Bearer {TOKEN}"
    assert [row["CorrelationId"] for row in json.loads(upload.body)] == [event_id]

    everything = b"".join(s.body for s in loopback.seen)
    assert SECRET.encode() not in everything


def test_the_host_json_leaves_exporting_to_the_app() -> None:
    host = json.loads(HOST_JSON.read_text())
    assert "telemetryMode" not in host  # the host's default mode: see telemetry.py
    assert host_exporter({}) is None


@pytest.mark.parametrize(
    ("host", "env", "named"),
    [
        ({"telemetryMode": "OpenTelemetry"}, {}, "telemetryMode"),
        ({"telemetryMode": "openTelemetry"}, {}, "telemetryMode"),
        ({}, {"PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true"}, "PYTHON_APPLICATIONINSIGHTS"),
        ({}, {"PYTHON_ENABLE_OPENTELEMETRY": "1"}, "PYTHON_ENABLE_OPENTELEMETRY"),
    ],
)
def test_the_app_does_not_export_what_the_host_already_exports(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    host: dict[str, str],
    env: dict[str, str],
    named: str,
) -> None:
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"version": "2.0", **host}))
    settings = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x", **env}
    with caplog.at_level(logging.WARNING):
        assert configure_from_environment(settings, host_json) is False
    assert named in caplog.text
