"""The Azure audit sink: chain head and outbox in Table storage (Azurite), records shipped
through the real LogsIngestionClient to a recording transport."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from typing import Any

import pytest
from azure.data.tables import TableClient

from shared.adapters.azure.audit_sink import PARTITION, AzureAuditSink, logs_client
from shared.adapters.azure.state_store import open_table
from shared.domain.audit import AUDIT_TABLE_COLUMNS, AuditEntry, from_table_row
from shared.domain.audit_verify import verify_chain
from shared.ports import TransientError
from shared.services.injection import inject
from shared.services.reconciler import reconcile
from tests.azurite import Azurite
from tests.conftest import World
from tests.contract.recording import Canned, FakeCredential, Recorded, RecordingTransport, error
from tests.fakes import TEST_CHAIN_KEY, FakeClock
from tests.integration.azure.helpers import fresh_table

ENDPOINT = "https://dce-mlops-x1y2.westeurope-1.ingest.monitor.azure.com"
DCR = "dcr-00112233445566778899aabbccddeeff"
STREAM = "Custom-MLOpsAudit_CL"
UPLOAD = rf"^{ENDPOINT}/dataCollectionRules/{DCR}/streams/{STREAM}\?api-version=2023-01-01$"


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        actor="/subscriptions/x/providers/Microsoft.Storage/storageAccounts/contosodata",
        action="data.received",
        target=f"spam:spam/part-{n}.csv",
        outcome="accepted",
        reason="added to window w1",
        correlation_id=f"event-{n}",
        details={"n": n, "pair": (1, 2)},
    )


def sink_for(
    table: TableClient, transport: RecordingTransport, every: int = 100
) -> tuple[AzureAuditSink, FakeCredential]:
    credential = FakeCredential()
    logs = logs_client(ENDPOINT, credential, transport=transport)
    sink = AzureAuditSink(
        table, logs, DCR, STREAM, FakeClock(), key=lambda: TEST_CHAIN_KEY, checkpoint_every=every
    )
    return sink, credential


def rows(request: Recorded) -> list[dict[str, Any]]:
    assert request.headers["Content-Encoding"] == "gzip"  # the SDK gzips every chunk
    assert request.body is not None
    decoded: list[dict[str, Any]] = json.loads(gzip.decompress(request.body))
    return decoded


def outbox(table: TableClient) -> list[str]:
    return [e["RowKey"] for e in table.query_entities(f"PartitionKey eq '{PARTITION}'")]


def test_a_record_is_uploaded_to_the_dcr_stream(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    transport.add("POST", UPLOAD, Canned(204), repeat=True)
    sink, credential = sink_for(table, transport)
    record = sink.append(entry(1))
    (sent,) = transport.sent("POST")
    (row,) = rows(sent)
    assert sorted(row) == sorted(name for name, _ in AUDIT_TABLE_COLUMNS)
    assert (row["Seq"], row["CorrelationId"], row["Hash"]) == (1, "event-1", record.hash)
    assert row["TimeGenerated"] == row["EventTime"] == record.time
    assert row["Details"] == {"n": 1, "pair": [1, 2]}  # dynamic JSON, not a string
    assert sent.headers["Authorization"] == "Bearer fake-token"
    assert credential.requested() == {"https://monitor.azure.com/.default"}
    assert outbox(table) == ["head"]  # uploaded, so no outbox row is left


def test_the_chain_continues_across_appends_and_verifies(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    transport.add("POST", UPLOAD, Canned(204), repeat=True)
    sink, _ = sink_for(table, transport)
    records = [sink.append(entry(n)) for n in range(4)]
    assert [r.seq for r in records] == [1, 2, 3, 4]
    uploaded = [row for sent in transport.sent("POST") for row in rows(sent)]
    assert verify_chain((from_table_row(row) for row in uploaded), key=TEST_CHAIN_KEY).valid
    # Another instance (its own clients) continues the same chain.
    reopened = open_table(azurite.table_url, table.table_name, azurite.credential)
    other, _ = sink_for(reopened, transport)
    assert other.append(entry(9)).prev_hash == records[-1].hash


def test_a_server_error_is_retried_then_succeeds(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    transport.add("POST", UPLOAD, error(500, "InternalServerError", "try again"), Canned(204))
    sink, _ = sink_for(table, transport)
    sink.append(entry(1))
    first, second = transport.sent("POST")
    assert rows(first) == rows(second)
    assert outbox(table) == ["head"]
    transport.assert_consumed()


def test_throttling_honours_retry_after(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    throttled = error(429, "TooManyRequests", "slow down", **{"Retry-After": "7"})
    transport.add("POST", UPLOAD, throttled, Canned(204))
    sink, _ = sink_for(table, transport)
    sink.append(entry(1))
    assert transport.sleeps == [7.0]
    assert len(transport.sent("POST")) == 2


def test_a_persistent_failure_keeps_the_record_for_the_next_flush(azurite: Azurite) -> None:
    table, failing = fresh_table(azurite), RecordingTransport()
    failing.add("POST", UPLOAD, error(500, "InternalServerError", "down"), repeat=True)
    sink, _ = sink_for(table, failing)
    with pytest.raises(TransientError, match="kept in the outbox"):
        sink.append(entry(1))
    assert len(failing.sent("POST")) == 4  # the first try and 3 bounded retries
    assert 0 < sum(failing.sleeps) <= 8 * 3  # with back-off (recorded, not waited)
    assert outbox(table) == ["head", "outbox-000000000001"]
    # Ingestion is back: the next append ships the pending record first, then its own.
    healthy = RecordingTransport()
    healthy.add("POST", UPLOAD, Canned(204), repeat=True)
    later, _ = sink_for(table, healthy)
    later.append(entry(2))
    (sent,) = healthy.sent("POST")
    assert [(r["Seq"], r["CorrelationId"]) for r in rows(sent)] == [(1, "event-1"), (2, "event-2")]
    assert outbox(table) == ["head"]
    assert later.flush() == 0  # nothing pending: no request
    assert len(healthy.sent("POST")) == 1


def test_the_reconciler_tick_ships_what_a_failed_upload_kept(
    azurite: Azurite, world: World
) -> None:
    table, failing = fresh_table(azurite), RecordingTransport()
    failing.add("POST", UPLOAD, error(503, "ServiceUnavailable", "down"), repeat=True)
    sink, _ = sink_for(table, failing)
    with pytest.raises(TransientError):
        sink.append(entry(1))
    # A quiet app makes no further append: the timer's tick is what delivers the record.
    healthy = RecordingTransport()
    healthy.add("POST", UPLOAD, Canned(204), repeat=True)
    later, _ = sink_for(table, healthy)
    report = inject(reconcile, replace(world.deps, audit=later))()
    assert report.audit_shipped == 1 and not report.errors
    (sent,) = healthy.sent("POST")
    assert [r["CorrelationId"] for r in rows(sent)] == ["event-1"]
    assert outbox(table) == ["head"]


def test_a_client_error_is_not_retried_and_not_transient(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    transport.add("POST", UPLOAD, error(400, "InvalidStream", "stream not in the DCR"))
    sink, _ = sink_for(table, transport)
    with pytest.raises(Exception, match="InvalidStream") as info:
        sink.append(entry(1))
    assert not isinstance(info.value, TransientError)
    assert outbox(table) == ["head", "outbox-000000000001"]  # kept for after the fix


def test_checkpoints_and_the_head_row_anchor_the_shipped_chain(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    transport.add("POST", UPLOAD, Canned(204), repeat=True)
    sink, _ = sink_for(table, transport, every=3)
    records = [sink.append(entry(n)) for n in range(7)]
    assert [r.seq for r in records] == [1, 2, 3, 5, 6, 7, 9]  # checkpoints at 4 and 8
    shipped = [from_table_row(row) for sent in transport.sent("POST") for row in rows(sent)]
    checkpoints = [r for r in shipped if r["action"] == "audit.checkpoint"]
    assert [(r["seq"], r["details"]["head_seq"]) for r in checkpoints] == [(4, 3), (8, 7)]
    head = dict(table.get_entity(PARTITION, "head"))  # what an operator passes as --anchor
    assert (head["Seq"], head["Hash"]) == (9, records[-1].hash)
    assert verify_chain(shipped, key=TEST_CHAIN_KEY, anchor=head).valid
    cut = verify_chain(shipped[:-2], key=TEST_CHAIN_KEY, anchor=head)
    assert (cut.valid, cut.first_bad_seq) == (False, 8)
    assert "cut off" in cut.problem
