"""Run in a subprocess by test_telemetry.py (configure_azure_monitor is process-global).

Starts the app as the Functions host would (``import function_app`` with a connection
string set), wires the Azure audit sink (Azurite table, Logs Ingestion on the loopback
server, the process credential), delivers one event through the registered function and
logs a line carrying a secret, then flushes the exporters. A handler on the root logger
stands in for the Functions worker's, which forwards records to the host: the records it
saw are printed as JSON lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid

from opentelemetry import trace
from opentelemetry._logs import get_logger_provider

import function_app  # the start-up path under test
from shared import bootstrap
from shared.adapters import project_files
from shared.adapters.azure.audit_sink import AzureAuditSink, logs_client
from shared.adapters.azure.credential import process_credential
from shared.adapters.azure.state_store import AzureStateStore, open_table
from shared.adapters.clock import SystemClock
from shared.devhost import delivery
from shared.services.deps import Deps
from shared.settings import Settings, service_settings
from tests.azurite import ACCOUNT, ACCOUNT_KEY
from tests.fakes import TEST_CHAIN_KEY, InMemoryBlobStore, InMemoryContainerRegistry
from tests.fakes.ml_platform import FakeMLPlatform


class WorkerHandler(logging.Handler):
    """What the Python worker attaches to the root logger to hand records to the host."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append({"name": record.name, "message": record.getMessage()})


class NoSecrets:
    def get(self, name: str) -> str:
        raise KeyError(name)


def main() -> None:
    from azure.core.credentials import AzureNamedKeyCredential

    assert function_app.app is not None
    worker = WorkerHandler()
    logging.getLogger().addHandler(worker)
    settings = Settings()
    credential = process_credential(settings.azure_client_id)
    table = open_table(
        os.environ["PROBE_TABLE_URL"],
        f"t{uuid.uuid4().hex[:20]}",
        AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY),
    )
    audit = AzureAuditSink(
        table,
        logs_client(os.environ["PROBE_INGESTION_URL"], credential),
        "dcr-00112233445566778899aabbccddeeff",
        settings.audit_stream,
        SystemClock(),
        key=lambda: TEST_CHAIN_KEY,
    )
    smoke = project_files.load_smoke_set(settings.smoke_set)
    bootstrap.install(
        Deps(
            service_settings(settings),
            FakeMLPlatform(smoke),
            InMemoryBlobStore(),
            AzureStateStore(table),
            NoSecrets(),
            audit,
            SystemClock(),
            smoke,
            InMemoryContainerRegistry(),
        )
    )
    event_id = sys.argv[1]
    delivery.invoke(
        "on_blob_created",
        {
            "id": event_id,
            "topic": "/subscriptions/x/providers/Microsoft.Storage/storageAccounts/evil",
            "subject": "/blobServices/default/containers/training-data/blobs/spam/a.csv",
            "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2026-01-01T00:00:00Z",
            "data": {
                "url": "https://evil.blob.core.windows.net/training-data/spam/a.csv",
                "eTag": "0x8D1",
                "contentLength": 10,
                "contentType": "text/csv",
            },
            "dataVersion": "",
        },
    )
    logging.getLogger("mlops.events").warning(
        "retrying %s with AccountKey=%s", event_id, os.environ["PROBE_SECRET"]
    )
    get_logger_provider().force_flush()  # type: ignore[attr-defined]
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    for seen in worker.seen:
        print(json.dumps(seen))


if __name__ == "__main__":
    main()
