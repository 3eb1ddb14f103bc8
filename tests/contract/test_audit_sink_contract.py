"""The AuditSink contract, run on every implementation: SQLite (the local trail), Table storage
on Azurite with Logs ingestion answered by the recording transport (the Azure trail) and the
tests' fake.

Every service and view relies on these promises: the sink numbers records from 1 without a
gap, chains each to the one before under its key (so ``verify_chain`` holds), stamps the
time from its clock in UTC, keeps what the service said (details as JSON reads them back),
and ``flush`` ships what is pending once: a second flush has nothing left.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.adapters.azure.audit_sink import AzureAuditSink, logs_client
from shared.adapters.local.audit_sink import DEFAULT_KEY_SECRET, SqliteAuditSink
from shared.adapters.local.secret_store import EnvFileSecretStore
from shared.domain.audit import GENESIS_HASH, AuditEntry, ChainKey
from shared.domain.audit_verify import verify_chain
from shared.ports import AuditSink
from tests.azurite import Azurite
from tests.contract.recording import Canned, FakeCredential, RecordingTransport
from tests.fakes import TEST_CHAIN_KEY, FakeClock, RecordingAuditSink
from tests.integration.azure.helpers import fresh_table

UPLOAD = r"/dataCollectionRules/dcr-[0-9a-f]+/streams/Custom-MLOpsAudit_CL\?"
EVERY = 1_000  # no checkpoint record inside these short trails


@dataclass
class Harness:
    sink: AuditSink
    clock: FakeClock
    key: Callable[[], ChainKey]  # the sink's chain key (the local one makes its own)


@pytest.fixture(params=["fake", "local", "azure"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    clock = FakeClock()
    if request.param == "fake":
        yield Harness(RecordingAuditSink(clock), clock, lambda: TEST_CHAIN_KEY)
    elif request.param == "local":
        secrets = EnvFileSecretStore(tmp_path / "secrets.json")
        local = SqliteAuditSink(
            tmp_path / "audit.db", clock, secrets=secrets, checkpoint_every=EVERY
        )
        yield Harness(local, clock, lambda: ChainKey.from_text(secrets.get(DEFAULT_KEY_SECRET)))
        local.close()
    else:
        azurite: Azurite = request.getfixturevalue("azurite")
        transport = RecordingTransport()
        transport.add("POST", UPLOAD, Canned(204), repeat=True)
        logs = logs_client(
            "https://dce.example.ingest.monitor.azure.com", FakeCredential(), transport=transport
        )
        rule = f"dcr-{uuid.uuid4().hex}"
        azure = AzureAuditSink(
            fresh_table(azurite),
            logs,
            rule,
            "Custom-MLOpsAudit_CL",
            clock,
            key=lambda: TEST_CHAIN_KEY,
            checkpoint_every=EVERY,
        )
        yield Harness(azure, clock, lambda: TEST_CHAIN_KEY)


def entry(n: int, **details: object) -> AuditEntry:
    return AuditEntry(
        "contract",
        "data.received",
        f"spam:part-{n}.csv",
        "accepted",
        f"reason {n}",
        f"c{n}",
        details,
    )


def test_records_are_numbered_chained_and_verify(harness: Harness) -> None:
    records = []
    for n in range(1, 6):
        records.append(harness.sink.append(entry(n)))
        harness.clock.advance(1.5)

    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    report = verify_chain((r.to_dict() for r in records), key=harness.key())
    assert report.valid, report


def test_a_record_keeps_what_the_service_said_at_the_clock_s_time(harness: Harness) -> None:
    record = harness.sink.append(entry(1, files=("a.csv", "b.csv"), rows=3))

    said = (record.actor, record.action, record.target, record.outcome, record.reason)
    assert said == ("contract", "data.received", "spam:part-1.csv", "accepted", "reason 1")
    assert record.correlation_id == "c1"
    assert record.details == {"files": ["a.csv", "b.csv"], "rows": 3}  # as JSON reads it back
    assert record.time == harness.clock.now().isoformat(timespec="microseconds")


def test_a_second_flush_has_nothing_left_to_ship(harness: Harness) -> None:
    harness.sink.append(entry(1))
    harness.sink.flush()

    assert harness.sink.flush() == 0
