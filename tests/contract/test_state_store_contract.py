"""The state store contract, on SQLite, on Azure Tables (Azurite) and on the tests' fake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import TableClient

from shared.adapters.azure.state_store import CHUNK_CHARS, AzureStateStore, open_table
from shared.adapters.local.state_store import SqliteStateStore
from shared.ports import ConcurrencyConflict, StateStore, TransientError
from tests.azurite import Azurite
from tests.contract.recording import Canned, RecordingTransport, error
from tests.fakes import InMemoryStateStore
from tests.integration.azure.helpers import fresh_table


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if kind == "sqlite":
        sqlite = SqliteStateStore(tmp_path / "state.db")
        yield sqlite
        sqlite.close()
    elif kind == "memory":  # the tests' fake must keep the same contract
        yield InMemoryStateStore()
    else:
        azurite: Azurite = request.getfixturevalue("azurite")
        yield AzureStateStore(fresh_table(azurite))


@pytest.fixture(params=["sqlite", "azure", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    yield from _open(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "azure"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A store other threads and processes use too (the single-threaded fake is not one)."""
    yield from _open(request.param, request, tmp_path)


def test_compare_and_set(store: StateStore) -> None:
    assert store.get("rollout", "ep") is None
    first = store.put("rollout", "ep", {"state": "planned", "n": [1, 2]}, etag=None)
    with pytest.raises(ConcurrencyConflict):
        store.put("rollout", "ep", {"state": "other"}, etag=None)
    second = store.put("rollout", "ep", {"state": "deploying"}, etag=first)
    assert second != first
    with pytest.raises(ConcurrencyConflict):
        store.put("rollout", "ep", {"state": "stale"}, etag=first)
    with pytest.raises(ConcurrencyConflict):
        store.put("rollout", "missing", {"state": "x"}, etag=second)
    stored = store.get("rollout", "ep")
    assert stored is not None
    assert (stored.key, dict(stored.value), stored.etag) == ("ep", {"state": "deploying"}, second)


def test_list_is_ordered_and_literal(store: StateStore) -> None:
    for key in ["spam/b", "spam/a", "spam%x", "spam_y", "ham/a", "spamx"]:
        store.put("window", key, {"key": key}, etag=None)
    store.put("other", "spam/c", {}, etag=None)
    assert [s.key for s in store.list("window", "spam/")] == ["spam/a", "spam/b"]
    assert [s.key for s in store.list("window", "spam%")] == ["spam%x"]
    assert [s.key for s in store.list("window", "spam_")] == ["spam_y"]
    assert len(store.list("window")) == 6


def test_keys_with_characters_table_storage_forbids(store: StateStore) -> None:
    keys = ["a/b", "a\\b", "a#b", "a?b", "a%2Fb", "tab\there", "nl\nx", "café/ü", "a/b/", "\x7f"]
    for key in keys:
        store.put("odd/kind#1", key, {"key": key}, etag=None)
    listed = store.list("odd/kind#1")
    assert [s.key for s in listed] == sorted(keys)  # code-point order, as SQLite sorts
    assert all(s.value == {"key": s.key} for s in listed)
    assert [s.key for s in store.list("odd/kind#1", "a/")] == ["a/b", "a/b/"]
    assert [s.key for s in store.list("odd/kind#1", "a%")] == ["a%2Fb"]
    stored = store.get("odd/kind#1", "a?b")
    assert stored is not None and stored.value == {"key": "a?b"}


def test_large_documents_round_trip(store: StateStore) -> None:
    members = {f"member-{n:05d}": "x" * 40 for n in range(4000)}  # ~200 KB of JSON
    etag = store.put("window", "big", {"members": members, "text": "naïve ☃"}, etag=None)
    stored = store.get("window", "big")
    assert stored is not None and stored.etag == etag
    assert stored.value == {"members": members, "text": "naïve ☃"}
    smaller = store.put("window", "big", {"members": {}}, etag=etag)
    again = store.get("window", "big")
    assert again is not None and (again.value, again.etag) == ({"members": {}}, smaller)


def test_two_threads_racing_on_one_etag_one_wins(shared_store: StateStore) -> None:
    store = shared_store
    store.put("counter", "c", {"n": 0}, etag=None)
    rounds, workers = 25, 2

    def increment() -> None:
        done = 0
        while done < rounds:
            current = store.get("counter", "c")
            assert current is not None
            try:
                store.put("counter", "c", {"n": current.value["n"] + 1}, etag=current.etag)
                done += 1
            except ConcurrencyConflict:
                continue

    threads = [threading.Thread(target=increment) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.get("counter", "c")
    assert final is not None and final.value["n"] == rounds * workers  # no lost update


def test_many_threads_inserting_the_same_key_one_wins(shared_store: StateStore) -> None:
    store = shared_store
    barrier, wins, conflicts = threading.Barrier(8), [], []

    def insert(n: int) -> None:
        barrier.wait()
        try:
            store.put("idempotency", "event-1", {"by": n}, etag=None)
            wins.append(n)
        except ConcurrencyConflict:
            conflicts.append(n)

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1 and len(conflicts) == 7


def test_a_document_too_large_for_a_row_is_refused_clearly(azurite: Azurite) -> None:
    store = AzureStateStore(fresh_table(azurite))
    with pytest.raises(ValueError, match="state document window/huge is"):
        store.put("window", "huge", {"blob": "x" * (CHUNK_CHARS * 16)}, etag=None)
    assert store.get("window", "huge") is None


def test_the_table_is_created_once_and_reopened(azurite: Azurite) -> None:
    first = fresh_table(azurite)
    AzureStateStore(first).put("k", "a", {"n": 1}, etag=None)
    reopened = open_table(azurite.table_url, first.table_name, azurite.credential)
    assert [s.key for s in AzureStateStore(reopened).list("k")] == ["a"]


def test_a_role_scoped_to_the_table_may_not_create_it() -> None:
    transport = RecordingTransport()
    transport.add("POST", r"/Tables", error(403, "AuthorizationPermissionMismatch", "no"))
    client = open_table(
        "https://acct.table.core.windows.net", "mlopsstate", _named_key(), transport=transport
    )
    assert client.table_name == "mlopsstate"  # opened: Bicep made the table, the app uses it


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(status: int) -> None:
    transport = RecordingTransport()
    transport.add("GET", r"/mlopsstate\(PartitionKey=", Canned(status), repeat=True)
    table = TableClient(
        "https://contosodata.table.core.windows.net",
        "mlopsstate",
        credential=_named_key(),
        transport=transport,
        retry_total=1,
    )
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        AzureStateStore(table).get("rollout", "ep")
    assert len(transport.sent("GET")) == 2  # the SDK retried once, then gave up


def _named_key() -> AzureNamedKeyCredential:
    return AzureNamedKeyCredential("contosodata", "a2V5")
