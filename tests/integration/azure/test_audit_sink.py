"""Many Function instances, one audit chain: the head row in Table storage (Azurite) decides."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import pytest

from shared.adapters.azure.audit_sink import AzureAuditSink, logs_client
from shared.adapters.azure.state_store import AzureStateStore, open_table
from shared.adapters.clock import SystemClock
from shared.domain.audit import AuditEntry, from_table_row
from shared.domain.audit_verify import verify_chain
from shared.ports import TransientError
from tests.azurite import Azurite
from tests.contract.recording import Canned, FakeCredential, RecordingTransport
from tests.fakes import TEST_CHAIN_KEY
from tests.integration.azure.helpers import fresh_table

DCR = "dcr-00112233445566778899aabbccddeeff"
UPLOAD = r"/dataCollectionRules/dcr-[0-9a-f]+/streams/Custom-MLOpsAudit_CL\?"


def test_concurrent_instances_append_to_one_chain(azurite: Azurite) -> None:
    table_name = fresh_table(azurite).table_name
    transport = RecordingTransport()
    transport.add("POST", UPLOAD, Canned(204), repeat=True)
    instances, per_instance = 4, 8

    def instance(n: int) -> None:
        # Each "instance" has its own clients, as separate processes would.
        table = open_table(azurite.table_url, table_name, azurite.credential)
        logs = logs_client(
            "https://dce.example.ingest.monitor.azure.com", FakeCredential(), transport=transport
        )
        sink = AzureAuditSink(
            table, logs, DCR, "Custom-MLOpsAudit_CL", SystemClock(), key=lambda: TEST_CHAIN_KEY
        )
        for i in range(per_instance):
            sink.append(AuditEntry("test", "probe", f"i{n}", "accepted", correlation_id=f"{n}-{i}"))

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    uploaded: dict[int, dict[str, Any]] = {}
    for sent in transport.sent("POST"):
        assert sent.body is not None
        for row in json.loads(gzip.decompress(sent.body)):
            # A racing flush may ship a row twice: same Seq, same Hash (KQL dedupes by Seq).
            assert uploaded.setdefault(row["Seq"], row)["Hash"] == row["Hash"]
    assert sorted(uploaded) == list(range(1, instances * per_instance + 1))
    rows = [from_table_row(uploaded[seq]) for seq in sorted(uploaded)]
    report = verify_chain(rows, key=TEST_CHAIN_KEY)
    assert report.valid, report
    assert len({row["CorrelationId"] for row in uploaded.values()}) == instances * per_instance


def test_the_audit_rows_do_not_show_up_as_state(azurite: Azurite) -> None:
    table = fresh_table(azurite)
    transport = RecordingTransport()
    transport.add("POST", UPLOAD, Canned(500), repeat=True)  # keep the outbox row
    logs = logs_client(
        "https://dce.example.ingest.monitor.azure.com",
        FakeCredential(),
        transport=transport,
        retry_total=0,
    )
    sink = AzureAuditSink(
        table, logs, DCR, "Custom-MLOpsAudit_CL", SystemClock(), key=lambda: TEST_CHAIN_KEY
    )
    state = AzureStateStore(table)
    state.put("~audit", "head", {"mine": True}, etag=None)  # a kind that looks the same
    with pytest.raises(TransientError):
        sink.append(AuditEntry("test", "probe", "t", "accepted"))
    stored = state.get("~audit", "head")
    assert stored is not None and stored.value == {"mine": True}
    assert [s.key for s in state.list("~audit")] == ["head"]
