"""A lone surrogate cannot poison an event or the audit trail.

``"\\ud800"`` is valid JSON; Python decodes it into a ``str`` that no UTF-8 encoder takes, so
an event field holding one used to fail the audit append (UnicodeEncodeError from the record
hash, then from SQLite), the function failed, and Event Grid retried the event until it was
dead-lettered. Now the parser refuses such an event as bad input, the refusal is audited with
the text in the trail's stored form (each surrogate as U+FFFD and its hex digits, each U+FFFD
doubled: reversible, covered by the record hash), and the function returns normally.
Events go through the real entry points (``azure.functions`` trigger objects built by the
library's own converter) on the real local backend; the Azure sink's serialisation is
checked against Azurite and a recording Logs Ingestion transport.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import bootstrap
from shared.adapters.azure.audit_sink import AzureAuditSink, logs_client
from shared.adapters.local import backend as local_backend
from shared.adapters.local.backend import LocalBackend, local_topic
from shared.devhost import delivery
from shared.devhost.delivery import invoke
from shared.domain.audit import (
    AuditEntry,
    chain,
    from_table_row,
    restored_text,
    stored,
    stored_text,
)
from shared.domain.audit_verify import verify_chain
from shared.settings import Settings
from tests.azurite import Azurite
from tests.conftest import model_registered, to_cloud
from tests.contract.recording import Canned, FakeCredential, RecordingTransport
from tests.fakes import TEST_CHAIN_KEY, FakeClock
from tests.integration.azure.helpers import fresh_table

LONE = "\ud800"
TEXT_FIELDS = ("actor", "action", "target", "reason", "correlation_id")

# --- The stored form ---------------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec=None))
# The characters the escape is made of, so that look-alikes of escapes are tried often.
tricky = st.text(alphabet=st.sampled_from(["\ufffd", "\ud800", "\udfff", "\ud83d", "D", "8", "F"]))


@given(st.one_of(any_text, tricky))
def test_the_stored_form_encodes_and_gives_the_text_back(text: str) -> None:
    kept = stored_text(text)
    kept.encode("utf-8")  # never raises
    assert restored_text(kept) == text


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\ufffd")))
def test_text_utf8_can_encode_is_stored_unchanged(text: str) -> None:
    assert stored_text(text) == text


@given(st.one_of(any_text, tricky), st.one_of(any_text, tricky))
def test_two_texts_are_never_stored_alike(first: str, second: str) -> None:
    if first != second:
        assert stored_text(first) != stored_text(second)


def test_the_stored_form_by_example() -> None:
    assert stored_text("a\ud800b") == "a\ufffdD800b"
    assert stored_text("\ufffd") == "\ufffd\ufffd"
    assert stored_text("\ufffdD800") == "\ufffd\ufffdD800"  # not the escape of a surrogate
    assert stored({"k\udc00": ["\ud83d", 1]}) == {"k\ufffdDC00": ["\ufffdD83D", 1]}


def test_a_record_seals_the_stored_form_and_verifies() -> None:
    entry = AuditEntry(
        actor=LONE,
        action="event.received",
        target="blob" + LONE,
        outcome="rejected",
        reason="r" + LONE,
        correlation_id="id" + LONE,
        details={"key" + LONE: [LONE, {"nested": LONE}], "n": 1},
    )
    record = chain(entry, seq=1, time=FakeClock().now(), prev_hash="0" * 64, key=TEST_CHAIN_KEY)
    for name in TEXT_FIELDS:
        assert restored_text(getattr(record, name)) == getattr(entry, name)
    assert record.details == {"key\ufffdD800": ["\ufffdD800", {"nested": "\ufffdD800"}], "n": 1}
    assert verify_chain([record.to_dict()], key=TEST_CHAIN_KEY).valid


def test_verify_reports_a_forged_surrogate_instead_of_raising() -> None:
    entry = AuditEntry("actor", "event.received", "t", "rejected")
    record = chain(entry, seq=1, time=FakeClock().now(), prev_hash="0" * 64, key=TEST_CHAIN_KEY)
    forged = {**record.to_dict(), "target": "t" + LONE}
    report = verify_chain([forged], key=TEST_CHAIN_KEY)
    assert not report.valid and report.first_bad_seq == 1


# --- Through the functions, on the local backend ----------------------------------------------


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    built = local_backend.build(Settings(home=tmp_path_factory.mktemp("surrogate-home")))
    bootstrap.install(built.deps)
    yield built
    bootstrap.install(None)
    built.close()


def _blob_event(settings: Settings, n: int) -> dict[str, Any]:
    name = f"spam/s{n}.csv"
    return {
        "id": f"surrogate-{n}",
        "topic": local_topic(settings, "Microsoft.Storage/storageAccounts"),
        "subject": f"/blobServices/default/containers/{settings.training_container}/blobs/{name}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-26T10:00:00Z",
        "data": {
            "api": "PutBlob",
            "eTag": f'"0x8D{n:013X}"',
            "contentType": "text/csv",
            "contentLength": 10,
            "url": f"{settings.storage_account_url}/{settings.training_container}/{quote(name)}",
            "sequencer": f"{n:032x}",
        },
        "dataVersion": "",
    }


# (function, the field spoilt as a path into the event; "*" adds a key holding one)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "id": ("on_blob_created", ("id",)),
    "topic": ("on_blob_created", ("topic",)),
    "subject": ("on_blob_created", ("subject",)),
    "event type": ("on_blob_created", ("eventType",)),
    "url": ("on_blob_created", ("data", "url")),
    "etag": ("on_blob_created", ("data", "eTag")),
    "a data key": ("on_blob_created", ("data", "*")),
    "model name": ("on_model_registered", ("data", "modelName")),
    "model tag": ("on_model_registered", ("data", "modelTags", "gate")),
}
CLOUD_NAMES = {"topic": "source", "eventType": "type"}  # the CloudEvents 1.0 attributes


def _spoil(event: dict[str, Any], path: tuple[str, ...]) -> str:
    """Put a lone surrogate where ``path`` says; returns the field the refusal names."""
    *parents, last = path
    target = event
    for name in parents:
        target = target[name]
    if last == "*":
        target["x" + LONE] = "y"
        return ".".join(parents)
    target[last] = f"{target.get(last, '')}{LONE}"
    return ".".join(path)


def _event(backend: LocalBackend, function: str, n: int) -> dict[str, Any]:
    settings = backend.settings
    if function == "on_blob_created":
        return _blob_event(settings, n)
    event = model_registered(settings.model_name, str(n), {"gate": "passed"})
    event["id"] = f"surrogate-model-{n}"
    return event


@pytest.mark.parametrize("cloud", [False, True], ids=["eventgrid", "cloudevents"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_function_refuses_audits_and_returns(
    backend: LocalBackend, case: str, cloud: bool
) -> None:
    function, path = CASES[case]
    n = sorted(CASES).index(case) + (100 if cloud else 0)
    event = _event(backend, function, n)
    if cloud:
        event = to_cloud(event)
        path = (CLOUD_NAMES.get(path[0], path[0]), *path[1:])
    field = _spoil(event, path)
    before = len(backend.audit.records())

    delivery.invoke(function, event)  # returns: nothing for Event Grid to retry

    (record,) = backend.audit.records()[before:]
    assert (record.action, record.outcome) == ("event.received", "rejected")
    assert record.reason.startswith(f"{field} holds the surrogate code point U+D800")
    assert json.dumps(record.to_dict(), ensure_ascii=False).encode("utf-8")  # encodable
    assert restored_text(record.correlation_id) == event["id"]
    assert restored_text(record.target) == event["subject"]
    assert restored_text(record.actor) == event["source" if cloud else "topic"]
    assert backend.audit.verify().valid


def test_a_poisoned_delivery_is_delivered_once_and_never_dead_lettered(
    backend: LocalBackend,
) -> None:
    event = _blob_event(backend.settings, 900)
    _spoil(event, ("subject",))
    backend.events.publish(copy.deepcopy(event))
    assert backend.events.pump(invoke) == 1
    assert backend.events.pending() == 0 and list(backend.events.dead_letters()) == []
    assert backend.audit.records()[-1].correlation_id == event["id"]


# --- The Azure sink's serialisation ----------------------------------------------------------

ENDPOINT = "https://dce-mlops-x1y2.westeurope-1.ingest.monitor.azure.com"
DCR = "dcr-00112233445566778899aabbccddeeff"
STREAM = "Custom-MLOpsAudit_CL"
UPLOAD = rf"^{ENDPOINT}/dataCollectionRules/{DCR}/streams/{STREAM}\?api-version=2023-01-01$"


def test_the_azure_sink_stores_and_ships_the_stored_form(azurite: Azurite) -> None:
    table, transport = fresh_table(azurite), RecordingTransport()
    transport.add("POST", UPLOAD, Canned(204), repeat=True)
    logs = logs_client(ENDPOINT, FakeCredential(), transport=transport)
    sink = AzureAuditSink(table, logs, DCR, STREAM, FakeClock(), key=lambda: TEST_CHAIN_KEY)
    entry = AuditEntry(
        actor="/subscriptions/x/topic" + LONE,
        action="event.received",
        target="/blobServices/default/containers/c/blobs/a" + LONE,
        outcome="rejected",
        reason="subject holds the surrogate code point U+D800",
        correlation_id="evil" + LONE,
        details={"event_type": "t" + LONE, "k" + LONE: "\ufffd"},
    )

    record = sink.append(entry)  # the Table transaction and the upload both go through

    (sent,) = transport.sent("POST")
    assert sent.body is not None
    (row,) = json.loads(gzip.decompress(sent.body).decode("utf-8", "strict"))
    assert row["CorrelationId"] == "evil\ufffdD800" == record.correlation_id
    assert row["Details"] == {"event_type": "t\ufffdD800", "k\ufffdD800": "\ufffd\ufffd"}
    assert restored_text(row["Target"]) == entry.target
    assert verify_chain([from_table_row(row)], key=TEST_CHAIN_KEY).valid
    head = table.get_entity("~audit", "head")
    assert head["Hash"] == record.hash
