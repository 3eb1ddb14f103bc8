"""list_where, the state stores' index of active items (issue 15: a reconciler tick costs what
the active jobs and rollouts cost, not the history): the same answers on SQLite, on Azure
Tables (Azurite) and on the tests' fake, compare-and-set unchanged for indexed documents,
index rows never listed as documents, and SQLite answering from its expression index."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.adapters.local.state_store import SqliteStateStore
from shared.ports import ConcurrencyConflict, StateStore
from tests.contract.test_state_store_contract import store  # noqa: F401 (the fixture)

ACTIVE = ("planned", "deploying", "canary")


def test_list_where_answers_the_matches_in_key_order(store: StateStore) -> None:  # noqa: F811
    for n in range(30):
        store.put("rollout", f"done-{n:02d}", {"phase": "completed", "n": n}, etag=None)
    store.put("rollout", "b", {"phase": "canary"}, etag=None)
    store.put("rollout", "a/x~y'z", {"phase": "planned"}, etag=None)
    store.put("job", "j", {"status": "running"}, etag=None)
    found = store.list_where("rollout", "phase", ACTIVE)
    assert [(s.key, s.value["phase"]) for s in found] == [("a/x~y'z", "planned"), ("b", "canary")]
    assert [s.key for s in store.list_where("job", "status", ["running"])] == ["j"]
    assert store.list_where("job", "status", ["failed"]) == []
    assert len(store.list("rollout")) == 32  # documents only, never an index row
    assert all(set(s.value) <= {"phase", "n"} for s in store.list("rollout"))


def test_an_indexed_document_moves_and_keeps_compare_and_set(store: StateStore) -> None:  # noqa: F811
    etag = store.put("rollout", "r", {"phase": "planned"}, etag=None)
    with pytest.raises(ConcurrencyConflict):
        store.put("rollout", "r", {"phase": "planned"}, etag=None)
    moved = store.put("rollout", "r", {"phase": "canary"}, etag=etag)
    with pytest.raises(ConcurrencyConflict):
        store.put("rollout", "r", {"phase": "failed"}, etag=etag)  # stale: nothing written
    [canary] = store.list_where("rollout", "phase", ACTIVE)
    assert (canary.value["phase"], canary.etag) == ("canary", moved)
    store.put("rollout", "r", {"phase": "completed"}, etag=moved)
    assert store.list_where("rollout", "phase", ACTIVE) == []
    assert store.list_where("rollout", "phase", ["planned"]) == []  # the old value's row too
    [done] = store.list_where("rollout", "phase", ["completed"])
    assert done.key == "r"


def test_sqlite_answers_from_its_expression_index(tmp_path: Path) -> None:
    sqlite = SqliteStateStore(tmp_path / "state.db")
    statements: list[str] = []
    try:
        for n in range(50):
            sqlite.put("rollout", f"done-{n:02d}", {"phase": "completed"}, etag=None)
        conn = sqlite._pool.connection()  # the store's own connection: its statements
        conn.set_trace_callback(statements.append)
        sqlite.list_where("rollout", "phase", ACTIVE)
        conn.set_trace_callback(None)
        [query] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        plan = " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert "USING INDEX state_rollout_phase" in plan, plan
    finally:
        sqlite.close()
