"""The local trail's story index (issue 15): `mlops explain` through ``SqliteAuditSink.trail()``
tells the same story as from every record loaded, reads it through indexes only (no query
scans a table, so the cost follows the story, not the trail), and catches up on a trail
written before the index existed or behind the sink's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters.local._sqlite import ConnectionPool
from shared.adapters.local.audit_index import StoryIndex
from shared.adapters.local.audit_sink import _COLUMN_LIST, SqliteAuditSink, _record
from shared.domain.audit import AuditEntry
from shared.ops.views.story import AmbiguousId, StoryNotFound, explain
from tests.fakes import FakeClock

STORIES = 40


def story(n: int) -> Iterator[AuditEntry]:
    """Uploads coalesced into a job, its model, the model's rollout: three correlation ids
    joined only by link ids, as the services write them."""
    window, job, model_event = f"w{n:04x}", f"train-spam-w{n:04x}", f"model-event-{n:04d}"
    uploads = [f"upload-{n:04d}-{i}" for i in range(2)]
    for i, event in enumerate(uploads):
        details = {"window_id": window}
        yield AuditEntry(
            "storage", "data.received", f"spam/{n}/{i}", "accepted", "", event, details
        )
    yield AuditEntry("reconciler", "training.submitted", job, "accepted", "", uploads[0])
    yield AuditEntry("reconciler", "training.completed", job, "succeeded", "", uploads[0])
    tags = {"tags": {"window_id": window, "job_name": job}}
    yield AuditEntry("ml", "model.registered", f"m@{n}", "accepted", "", model_event, tags)
    for step in ("planned", "canary", "completed"):
        details = {"rollout_id": f"ro-{n}"}
        yield AuditEntry("ml", f"rollout.{step}", "ep/blue", "accepted", "", model_event, details)


@pytest.fixture
def trail_path(tmp_path: Path) -> Iterator[Path]:
    clock = FakeClock()
    sink = SqliteAuditSink(tmp_path / "audit.db", clock)
    for n in range(STORIES):
        for entry in story(n):
            clock.advance(1)
            sink.append(entry)
    sink.close()
    yield tmp_path / "audit.db"


KEYS = ("upload-0007-1", "upload-0007-0", "train-spam-w0007", "w0007", "m@7", "ro-7", "model-eve")


def test_the_indexed_story_is_the_story_of_every_record(trail_path: Path) -> None:
    sink = SqliteAuditSink(trail_path, FakeClock())
    try:
        everything = sink.records()
        for key in KEYS[:-1]:
            indexed = explain(sink.trail(), key)
            assert indexed == explain(everything, key), key
            assert len(indexed.steps) == 8 and len(indexed.correlation_ids) == 3, key
        for trail in (sink.trail(), everything):
            with pytest.raises(AmbiguousId):
                explain(trail, KEYS[-1])  # starts 40 model event ids
            with pytest.raises(StoryNotFound):
                explain(trail, "nothing-like-it")
        sink.append(
            AuditEntry("storage", "data.received", "spam/solo", "rejected", "", "solo-event-1")
        )
        assert explain(sink.trail(), "solo-ev").correlation_ids == (
            "solo-event-1",
        )  # a unique prefix
    finally:
        sink.close()


def test_every_story_query_searches_an_index_and_scans_no_table(trail_path: Path) -> None:
    pool = ConnectionPool(trail_path, "")
    statements: list[str] = []
    pool.connection().set_trace_callback(statements.append)
    try:
        for key in KEYS[:-1]:
            explain(StoryIndex(pool, _COLUMN_LIST, _record), key)
        with pytest.raises(AmbiguousId):
            explain(StoryIndex(pool, _COLUMN_LIST, _record), KEYS[-1])
        pool.connection().set_trace_callback(None)
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(reads) > 10
        for statement in reads:
            plan = " / ".join(
                r[3] for r in pool.connection().execute(f"EXPLAIN QUERY PLAN {statement}")
            )
            assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (statement, plan)
    finally:
        pool.close()


def test_a_trail_from_before_the_index_is_indexed_by_its_first_reader(trail_path: Path) -> None:
    with sqlite3.connect(trail_path) as conn:  # as a trail written by the previous version
        conn.execute("DROP TABLE audit_link")
        conn.execute("DROP TABLE audit_indexed")
    conn.close()
    sink = SqliteAuditSink(trail_path, FakeClock())
    try:
        story = explain(sink.trail(), "upload-0007-1")
        assert len(story.steps) == 8 and len(story.correlation_ids) == 3
        clock_entry = AuditEntry("storage", "data.received", "spam/x", "accepted", "", "late-1")
        sink.append(clock_entry)  # the index caught up, so appends index themselves again
        with sqlite3.connect(trail_path) as conn:
            [(indexed,)] = conn.execute("SELECT seq FROM audit_indexed")
            [(newest,)] = conn.execute("SELECT max(seq) FROM audit")
        conn.close()
        assert indexed == newest
    finally:
        sink.close()


def test_records_added_behind_the_sinks_back_are_indexed_before_a_story_is_read(
    trail_path: Path,
) -> None:
    """Rows the sink did not write (another version, a restore) leave the index behind; the
    next story read catches up rather than missing their links."""
    with sqlite3.connect(trail_path) as conn:
        conn.execute("UPDATE audit_indexed SET seq = seq - 8")  # the last story, unindexed
        conn.execute("DELETE FROM audit_link WHERE correlation_id LIKE '%0039%'")
    conn.close()
    sink = SqliteAuditSink(trail_path, FakeClock())
    try:
        story = explain(sink.trail(), "upload-0039-1")
        assert len(story.steps) == 8 and len(story.correlation_ids) == 3
    finally:
        sink.close()
