"""The local adapters against real SQLite files and folders."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from shared.adapters.clock import SystemClock
from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.adapters.local.blob_store import LocalBlobStore
from shared.adapters.local.secret_store import EnvFileSecretStore
from shared.adapters.local.state_store import SqliteStateStore
from shared.domain.audit import AuditEntry
from shared.ports import (
    AuditSink,
    BlobStore,
    Clock,
    NotFound,
    SecretStore,
    StateStore,
)
from tests.fakes import FakeClock, InMemoryBlobStore, InMemoryStateStore, RecordingAuditSink

ACCOUNT = "http://127.0.0.1:10000/devstoreaccount1"


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    return SqliteStateStore(tmp_path / "state.db")


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs" / "training-data", ACCOUNT, "training-data")


def test_adapters_and_fakes_satisfy_the_ports(tmp_path: Path) -> None:
    clock: Clock = SystemClock()
    assert clock.now().utcoffset() == timedelta(0)
    stores: list[StateStore] = [SqliteStateStore(tmp_path / "s.db"), InMemoryStateStore()]
    sinks: list[AuditSink] = [SqliteAuditSink(tmp_path / "a.db", clock), RecordingAuditSink()]
    blob_stores: list[BlobStore] = [
        LocalBlobStore(tmp_path / "c", ACCOUNT, "c"),
        InMemoryBlobStore(),
    ]
    secrets: SecretStore = EnvFileSecretStore(tmp_path / "secrets.json")
    assert stores and sinks and blob_stores and secrets


def entry(n: int, **extra: str) -> AuditEntry:
    return AuditEntry(
        actor=extra.get("actor", "/subscriptions/x/storageAccounts/contosodata"),
        action=extra.get("action", "data.received"),
        target=extra.get("target", f"spam/part-{n}.csv"),
        outcome="accepted",
        reason="ok",
        correlation_id=f"event-{n}",
        details={"n": n, "tuple": (1, 2), "nested": {"k": "v"}},
    )


def test_audit_chain_appends_and_verifies(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = SqliteAuditSink(tmp_path / "audit.db", clock)
    records = []
    for n in range(5):
        records.append(sink.append(entry(n)))
        clock.advance(60)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[1].prev_hash == records[0].hash
    assert sink.verify().valid and sink.verify().records == 5
    # A second sink on the same file (another process) continues the same chain.
    other = SqliteAuditSink(tmp_path / "audit.db", clock)
    assert other.append(entry(5)).prev_hash == records[-1].hash
    assert other.verify().valid


def test_audit_record_filters(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = SqliteAuditSink(tmp_path / "audit.db", clock)
    for n in range(6):
        action = "rollout.canary" if n % 2 else "data.received"
        sink.append(entry(n, action=action))
        clock.advance(60)
    assert [r.seq for r in sink.records()] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in sink.records(limit=2)] == [5, 6]
    assert [r.seq for r in sink.records(action_prefix="rollout.")] == [2, 4, 6]
    assert [r.seq for r in sink.records(target_contains="part-3")] == [4]
    assert [r.seq for r in sink.records(correlation_id="event-0")] == [1]
    since = FakeClock().now() + timedelta(seconds=120)
    assert [r.seq for r in sink.records(since=since)] == [3, 4, 5, 6]
    assert sink.records(action_prefix="%") == []
    assert sink.records()[0].details == {"n": 0, "tuple": [1, 2], "nested": {"k": "v"}}


def test_audit_log_refuses_updates_and_detects_tampering(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink = SqliteAuditSink(path, FakeClock())
    for n in range(4):
        sink.append(entry(n, actor="alice-0000"))
    sink.append(entry(4, actor="mallory-00"))
    sink.close()
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET reason = 'edited' WHERE seq = 2")
    # Edit the stored bytes directly: same length, so SQLite still reads the row.
    data = path.read_bytes()
    assert data.count(b"mallory-00") == 1
    path.write_bytes(data.replace(b"mallory-00", b"alice-0000"))
    report = SqliteAuditSink(path, FakeClock()).verify()
    assert (report.valid, report.first_bad_seq) == (False, 5)


def test_audit_detects_an_edit_with_the_triggers_dropped(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink = SqliteAuditSink(path, FakeClock())
    for n in range(5):
        sink.append(entry(n))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET outcome = 'rejected' WHERE seq = 3")
    report = sink.verify()
    assert (report.valid, report.first_bad_seq) == (False, 3)


def test_audit_detects_a_deleted_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    sink = SqliteAuditSink(path, FakeClock())
    for n in range(5):
        sink.append(entry(n))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq = 2")
    report = sink.verify()
    assert (report.valid, report.first_bad_seq) == (False, 2)  # the missing one


def test_blob_store_round_trip(blobs: LocalBlobStore) -> None:
    props = blobs.upload("spam/batch 1.csv", b"label,text\nspam,win\n", "text/csv")
    assert props.url == f"{ACCOUNT}/training-data/spam/batch%201.csv"
    assert props.etag.startswith('"0x8D') and len(props.etag) == 19
    assert blobs.properties(props.url) == props
    assert blobs.read_head(props.url, 5) == b"label"
    again = blobs.upload("spam/batch 1.csv", b"label,text\n", "text/csv")
    assert again.etag != props.etag
    folder = blobs.path_for(f"{ACCOUNT}/training-data/spam/")
    assert folder == blobs.root / "spam"
    assert sorted(p.name for p in folder.iterdir()) == ["batch 1.csv"]  # no sidecars in data


def test_blob_store_missing_and_foreign_urls(blobs: LocalBlobStore) -> None:
    with pytest.raises(NotFound):
        blobs.properties(blobs.url_for("spam/none.csv"))
    with pytest.raises(NotFound):
        blobs.read_head(blobs.url_for("spam/none.csv"), 10)
    with pytest.raises(ValueError, match="storage account"):
        blobs.properties("https://evil.blob.core.windows.net/training-data/a/b.csv")
    with pytest.raises(ValueError, match="container"):
        blobs.properties(f"{ACCOUNT}/other/a/b.csv")
    with pytest.raises(ValueError, match="container"):
        blobs.properties(f"{ACCOUNT}/training-data-2/a/b.csv")


@pytest.mark.parametrize(
    "suffix",
    [
        "../secrets.json",
        "spam/../../secrets.json",
        "%2e%2e/secrets.json",
        "spam/%2e%2e/%2e%2e/secrets.json",
        "..%2fsecrets.json",
        "%2Fetc%2Fpasswd",
        "spam/%5c..%5c..%5csecrets.json",
        "spam/a%00.csv",
    ],
)
def test_blob_store_refuses_path_escapes(blobs: LocalBlobStore, suffix: str) -> None:
    (blobs.root.parent / "secrets.json").write_text("{}")
    with pytest.raises(ValueError):
        blobs.path_for(f"{ACCOUNT}/training-data/{suffix}")


def test_blob_store_refuses_symlink_escapes_and_bad_uploads(blobs: LocalBlobStore) -> None:
    outside = blobs.root.parent / "outside"
    outside.mkdir()
    (blobs.root / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="outside"):
        blobs.path_for(blobs.url_for("link/x.csv"))
    for bad in ["../x.csv", "/etc/x.csv", "a\\..\\x.csv", ""]:
        with pytest.raises(ValueError):
            blobs.upload(bad, b"x", "text/csv")


def test_secrets_from_environment_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"db-password": "from-file", "api-key": "k-file"}')
    path.chmod(0o600)
    monkeypatch.setenv("MLOPS_SECRET_DB_PASSWORD", "from-env")
    store = EnvFileSecretStore(path)
    assert store.get("db-password") == "from-env"
    assert store.get("api-key") == "k-file"
    with pytest.raises(NotFound, match="'nope'"):
        store.get("nope")
    with pytest.raises(ValueError):
        store.get("../etc")
    assert "from-file" not in repr(store)


def test_secret_file_missing_means_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        EnvFileSecretStore(tmp_path / "absent.json").get("api-key")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620])
def test_secret_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"api-key": "super-secret-value"}')
    path.chmod(mode)
    with pytest.raises(PermissionError, match=r"secrets\.json") as info:
        EnvFileSecretStore(path).get("api-key")
    assert "super-secret-value" not in str(info.value)


def test_secret_values_never_leak_through_parse_errors(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"api-key": "super-secret-value",,}')
    path.chmod(0o600)
    with pytest.raises(ValueError) as info:
        EnvFileSecretStore(path).get("api-key")
    assert "super-secret-value" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_audit_appends_from_many_threads_form_one_chain(tmp_path: Path) -> None:
    sink = SqliteAuditSink(tmp_path / "audit.db", SystemClock())

    def append_many() -> None:
        for n in range(50):
            sink.append(entry(n))

    threads = [threading.Thread(target=append_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = sink.verify()
    assert (report.valid, report.records) == (True, 202)  # with checkpoints after 100 and 200
