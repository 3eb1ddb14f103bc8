"""The audit sink seals on the head its last transaction wrote, without reading the row again
(decision 259); Azurite decides whether that guess still holds. Each instance here has its
own clients on one recording transport that forwards the table calls to Azurite and answers
Logs Ingestion, so the head reads and transactions each one made can be counted."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from shared.adapters.azure.audit_sink import HEAD, PARTITION, AzureAuditSink, logs_client
from shared.adapters.azure.state_store import open_table
from shared.adapters.clock import SystemClock
from shared.domain.audit import CHECKPOINT_ACTION, AuditEntry, from_table_row
from shared.domain.audit_verify import verify_chain
from tests.azurite import Azurite
from tests.contract.recording import Canned, FakeCredential, RecordingTransport
from tests.fakes import TEST_CHAIN_KEY
from tests.integration.azure.helpers import fresh_table

DCR = "dcr-00112233445566778899aabbccddeeff"
UPLOAD = r"/dataCollectionRules/dcr-[0-9a-f]+/streams/Custom-MLOpsAudit_CL\?"
HEAD_READ = rf"\(PartitionKey='{PARTITION}',RowKey='{HEAD}'\)$"
BATCH = r"/\$batch$"


class Instance:
    """One Function instance: its own table and Logs clients, its own sink."""

    def __init__(self, azurite: Azurite, table: str, every: int) -> None:
        self.transport = RecordingTransport()
        self.transport.add("POST", UPLOAD, Canned(204), repeat=True)
        self.transport.forward(r"^http://127\.0\.0\.1:", lambda url: url)  # Azurite
        self.table = open_table(
            azurite.table_url, table, azurite.credential, transport=self.transport
        )
        logs = logs_client(
            "https://dce.example.ingest.monitor.azure.com",
            FakeCredential(),
            transport=self.transport,
        )
        self.sink = AzureAuditSink(
            self.table,
            logs,
            DCR,
            "Custom-MLOpsAudit_CL",
            SystemClock(),
            key=lambda: TEST_CHAIN_KEY,
            checkpoint_every=every,
        )

    def append(self, n: int) -> None:
        self.sink.append(AuditEntry("test", "probe", f"t{n}", "accepted", correlation_id=str(n)))

    def head_reads(self) -> int:
        return len(self.transport.sent("GET", HEAD_READ))

    def transactions(self) -> int:
        return len(self.transport.sent("POST", BATCH))

    def uploaded(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for sent in self.transport.sent("POST", UPLOAD):
            assert sent.body is not None
            rows.extend(json.loads(gzip.decompress(sent.body)))
        return rows


def trail(*instances: Instance) -> list[dict[str, Any]]:
    """Every shipped row once, in seq order (a row shipped twice has the same hash)."""
    by_seq: dict[int, dict[str, Any]] = {}
    for instance in instances:
        for row in instance.uploaded():
            assert by_seq.setdefault(row["Seq"], row)["Hash"] == row["Hash"]
    return [by_seq[seq] for seq in sorted(by_seq)]


def anchor(instance: Instance) -> dict[str, Any]:
    head = instance.table.get_entity(PARTITION, HEAD)
    return {"seq": head["Seq"], "hash": head["Hash"], "mac": head["Mac"]}


def test_one_instance_reads_the_head_once_and_seals_on_what_it_wrote(azurite: Azurite) -> None:
    one = Instance(azurite, fresh_table(azurite).table_name, every=3)
    for n in range(7):
        one.append(n)
    # The ETag Azurite returned in the transaction's response was accepted as If-Match.
    assert (one.head_reads(), one.transactions()) == (1, 7)
    rows = trail(one)
    assert [row["Seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert sum(row["Action"] == CHECKPOINT_ACTION for row in rows) == 2  # the cadence held
    records = [from_table_row(row) for row in rows]
    report = verify_chain(records, key=TEST_CHAIN_KEY, anchor=anchor(one), anchored=True)
    assert report.valid, report


def test_two_instances_appending_alternately_keep_one_chain(azurite: Azurite) -> None:
    table = fresh_table(azurite).table_name
    a, b = Instance(azurite, table, every=4), Instance(azurite, table, every=4)
    rounds = 6
    for n in range(rounds):
        a.append(2 * n)
        b.append(2 * n + 1)
    # Every guess after an instance's first append was stale: refused (412), read, committed.
    assert (a.head_reads(), a.transactions()) == (rounds, 2 * rounds - 1)
    assert (b.head_reads(), b.transactions()) == (rounds, 2 * rounds - 1)
    rows = trail(a, b)
    assert [row["Seq"] for row in rows] == list(range(1, len(rows) + 1))
    probes = [row for row in rows if row["Action"] != CHECKPOINT_ACTION]
    assert [row["CorrelationId"] for row in probes] == [str(n) for n in range(2 * rounds)]
    records = [from_table_row(row) for row in rows]
    report = verify_chain(records, key=TEST_CHAIN_KEY, anchor=anchor(a), anchored=True)
    assert report.valid, report


def test_a_deleted_head_is_read_again_not_guessed(azurite: Azurite) -> None:
    one = Instance(azurite, fresh_table(azurite).table_name, every=1_000)
    one.append(0)
    one.table.delete_entity(PARTITION, HEAD)  # If-Match on the remembered head: 404
    one.append(1)
    assert (one.head_reads(), one.transactions()) == (2, 3)
    assert [row["Seq"] for row in one.uploaded()] == [1, 1]  # a new chain, as before the cache


def test_after_a_failed_append_the_head_is_read_again(azurite: Azurite) -> None:
    one = Instance(azurite, fresh_table(azurite).table_name, every=1_000)
    one.append(0)
    too_big = AuditEntry("test", "probe", "t1", "accepted", details={"blob": "x" * 500_000})
    with pytest.raises(ValueError, match="a row holds at most"):  # sealed, never committed
        one.sink.append(too_big)
    one.append(2)
    assert (one.head_reads(), one.transactions()) == (2, 2)
    assert [row["Seq"] for row in trail(one)] == [1, 2]
