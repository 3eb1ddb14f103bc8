"""`mlops audit verify` reads each record with SQLite's rendering of its canonical form and
trusts it only when the MAC over it matches (issue 15: verify in ≤ 1 s per 100,000 records).
Where SQLite renders a value differently from audit.canonical, the record is decoded and
hashed as before: the trail still verifies, and an edit still shows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.domain.audit import AuditEntry
from tests.fakes import FakeClock

AWKWARD = {
    "control": "a\x01b\x1fc\x7f",
    "separators": "\u2028\u2029",
    "quotes": 'say "hi" \\ </script>',
    "unicode": "naïve ✓ 🙂",
    "numbers": [1.0, 1e100, -0.0, 2**63, 0.1],
    "nested": {"b": [None, True, False], "a": {}},
    "spaces": "a, b: c",
}


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    clock = FakeClock()
    sink = SqliteAuditSink(tmp_path / "audit.db", clock)
    for n, (name, value) in enumerate(AWKWARD.items()):
        clock.advance(1)
        entry = AuditEntry(
            "t", "data.received", f"x/{n}", "accepted", name, f"c-{n}", {name: value}
        )
        sink.append(entry)
    sink.close()
    return tmp_path / "audit.db"


def test_values_sqlite_renders_otherwise_still_verify(trail: Path) -> None:
    sink = SqliteAuditSink(trail, FakeClock())
    try:
        report = sink.verify()
    finally:
        sink.close()
    assert report.valid and report.records == len(AWKWARD), report


def test_an_edit_that_keeps_the_json_valid_still_shows(trail: Path) -> None:
    with sqlite3.connect(trail) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("""UPDATE audit SET details = '{"unicode": "naive"}' WHERE seq = 4""")
    conn.close()
    sink = SqliteAuditSink(trail, FakeClock())
    try:
        report = sink.verify()
    finally:
        sink.close()
    assert not report.valid and report.first_bad_seq == 4, report
