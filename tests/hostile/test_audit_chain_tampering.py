"""An attacker with write access to the trail (audit.db, or an export from Log Analytics)
but not to the chain key: every edit, deletion, truncation, forgery, swap and replay is
caught by `mlops audit verify`, which names the first bad seq and why. Tried through the CLI
(in process, and as a subprocess for one of each kind), on the local trail and on an export.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.domain.audit import (
    AuditEntry,
    ChainKey,
    Outcome,
    canonical,
    record_hash,
    to_table_row,
)
from shared.ops.cli import main
from tests.fakes import FakeClock

Rows = list[dict[str, Any]]
Attack = Callable[[Rows], Rows]
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
EVERY = 4  # checkpoints at seq 5, 10, 15 for 13 entries: 16 records in all
ENTRIES = 13
LAST = 16
ATTACKER = ChainKey(b"\x42" * 32)  # a key of the attacker's own
MLOPS = Path(sys.executable).parent / "mlops"


def entry(n: int) -> AuditEntry:
    outcome: Outcome = ("accepted", "rejected", "succeeded")[n % 3]
    details = {"n": n, "window_id": f"w-{n // 4}", "note": "\u202eevil\x1b[2J"}
    target, event = f"spam:p{n}.csv", f"ev-{n}"
    return AuditEntry(f"actor-{n}", "data.received", target, outcome, "ok", event, details)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = FakeClock(START)
    sink = SqliteAuditSink(tmp_path / "audit.db", clock, checkpoint_every=EVERY)
    for n in range(ENTRIES):
        sink.append(entry(n))
        clock.advance(60)
    sink.close()
    return tmp_path


def read(home: Path) -> Rows:
    with sqlite3.connect(home / "audit.db") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM audit ORDER BY seq")]
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def write(home: Path, rows: Rows) -> None:
    """Replace the whole trail, as an attacker with the file can (triggers dropped)."""
    with sqlite3.connect(home / "audit.db") as db:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        db.execute("DELETE FROM audit")
        for row in rows:
            values = {**row, "details": json.dumps(row["details"], sort_keys=True)}
            names = ", ".join(values)
            db.execute(f"INSERT INTO audit ({names}) VALUES ({', '.join('?' * len(values))})",  # noqa: S608
                       tuple(values.values()))  # fmt: skip


def unkeyed(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()  # what an unkeyed chain would accept


def attacker(row: dict[str, Any]) -> str:
    return record_hash(row, ATTACKER)  # HMAC, but under a key of the attacker's own


def reseal(rows: Rows, start: int, seal: Callable[[dict[str, Any]], str] = unkeyed) -> Rows:
    """Relink and re-hash every record from index ``start`` on, as a careful forger would."""
    for index in range(start, len(rows)):
        if index:
            rows[index]["prev_hash"] = rows[index - 1]["hash"]
        rows[index]["hash"] = seal(rows[index])
    return rows


def edit(
    field: str,
    value: Any,
    seq: int = 6,
    *,
    sealed: bool = False,
    seal: Callable[..., str] = unkeyed,
) -> Attack:
    def attack(rows: Rows) -> Rows:
        rows[seq - 1][field] = value
        return reseal(rows, seq - 1, seal) if sealed else rows

    return attack


def delete(*seqs: int, renumber: bool = False) -> Attack:
    def attack(rows: Rows) -> Rows:
        kept = [row for row in rows if row["seq"] not in seqs]
        if renumber:
            for number, row in enumerate(kept, 1):
                row["seq"] = number
            return reseal(kept, min(seqs) - 1)
        return kept

    return attack


def append_forged(seal: Callable[[dict[str, Any]], str], version: int = 2) -> Attack:
    def attack(rows: Rows) -> Rows:
        last = rows[-1]
        forged = {**last, "seq": last["seq"] + 1, "prev_hash": last["hash"], "reason": "fine"}
        forged |= {"schema_version": version, "action": "operator.rollback"}
        forged["hash"] = seal(forged)
        return [*rows, forged]

    return attack


def swap(a: int, b: int) -> Attack:
    def attack(rows: Rows) -> Rows:
        first, second = rows[a - 1], rows[b - 1]
        rows[a - 1] = {**second, "seq": a, "prev_hash": first["prev_hash"]}
        rows[b - 1] = {**first, "seq": b, "prev_hash": second["prev_hash"]}
        return rows

    return attack


def replay(source: int, at: int | None = None) -> Attack:
    """Copy record ``source`` over record ``at`` (or append it), keeping the links."""

    def attack(rows: Rows) -> Rows:
        copy = dict(rows[source - 1])
        if at is None:
            copy |= {"seq": rows[-1]["seq"] + 1, "prev_hash": rows[-1]["hash"]}
            return [*rows, copy]
        rows[at - 1] = {**copy, "seq": at, "prev_hash": rows[at - 2]["hash"]}
        return rows

    return attack


def checkpoint(field: str, value: Any) -> Attack:
    def attack(rows: Rows) -> Rows:
        rows[9]["details"] = {**rows[9]["details"], field: value}  # the checkpoint at seq 10
        return rows

    return attack


FIELDS = {
    "actor": "mallory",
    "action": "model.registered",
    "target": "spam:other.csv",
    "outcome": "rolled_back",
    "reason": "nothing to see",
    "correlation_id": "ev-other",
    "details": {"n": 99},
    "time": "2026-11-26T09:00:00.000000+00:00",
    "prev_hash": "0" * 64,
    "hash": "f" * 64,
}
# (name, attack, first bad seq, what the verdict says)
ATTACKS: list[tuple[str, Attack, int, str]] = [
    *[(f"edit {f}", edit(f, v), 6, "") for f, v in FIELDS.items()],
    *[(f"edit {f}, rehashed", edit(f, v, sealed=True), 6, "hash") for f, v in FIELDS.items()],
    ("edit the first, rehashed", edit("reason", "x", 1, sealed=True), 1, "hash"),
    ("edit the last, rehashed", edit("reason", "x", LAST, sealed=True), LAST, "hash"),
    ("re-sealed with another key", edit("reason", "x", sealed=True, seal=attacker), 6, "hash"),
    ("schema_version 1 downgrade", edit("schema_version", 1), 6, "unkeyed"),
    ("unknown schema_version", edit("schema_version", 3), 6, "schema_version"),
    ("delete the first", delete(1), 1, "record 1 is missing"),
    ("delete a middle one", delete(7), 7, "record 7 is missing"),
    ("delete a middle one, renumbered", delete(7, renumber=True), 7, "hash"),
    ("delete the last", delete(LAST), LAST, "cut off"),
    *[
        (f"truncate {k}", delete(*range(LAST - k + 1, LAST + 1)), LAST - k + 1, "cut off")
        for k in range(1, 7)
    ],
    ("append, sha256 hash", append_forged(unkeyed), LAST + 1, "hash"),
    ("append, schema 1", append_forged(unkeyed, version=1), LAST + 1, "unkeyed"),
    ("append, another key", append_forged(attacker), LAST + 1, "hash"),
    ("swap two", swap(3, 4), 3, "hash"),
    ("swap far apart", swap(2, 12), 2, "hash"),
    ("replay a record at the end", replay(2), LAST + 1, "hash"),
    ("replay a record over another", replay(2, 7), 7, "hash"),
    ("checkpoint: head seq", checkpoint("head_seq", 3), 10, "hash"),
    ("checkpoint: head hash", checkpoint("head_hash", "0" * 64), 10, "hash"),
    ("checkpoint: mac", checkpoint("head_mac", "0" * 64), 10, "hash"),
    ("checkpoint: every", checkpoint("every", 1000), 10, "hash"),
    ("checkpoint deleted, renumbered", delete(10, renumber=True), 10, "hash"),
]


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--home", *args[:1], "audit", "verify", *args[1:]])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(("name", "attack", "seq", "why"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_the_local_trail(
    home: Path, capsys: pytest.CaptureFixture[str], name: str, attack: Attack, seq: int, why: str
) -> None:
    assert verify(capsys, str(home)) == (0, f"audit chain valid: {LAST} records (local trail)\n")
    write(home, attack(read(home)))
    code, out = verify(capsys, str(home))
    assert code == 1, f"{name}: {out}"
    assert out.startswith(f"audit chain BROKEN at seq {seq}: "), out
    assert why in out
    assert "\x1b" not in out and "\u202e" not in out


def export(home: Path, rows: Rows, path: Path) -> Path:
    """Rows as `az monitor log-analytics query -o json` gives them: every value a string."""
    sink = SqliteAuditSink(home / "audit.db", FakeClock())
    table = [to_table_row(record) for record in sink.records()]
    sink.close()
    by_seq = {int(row["Seq"]): row for row in table}
    strings = []
    for row in rows:  # the attacked records, in table form
        out = dict(by_seq.get(int(row["seq"]), table[0]))
        out |= {"SchemaVersion": row["schema_version"], "Seq": row["seq"]}
        out |= {"EventTime": row["time"], "Actor": row["actor"], "Action": row["action"]}
        out |= {"Target": row["target"], "Outcome": row["outcome"], "Reason": row["reason"]}
        out |= {"CorrelationId": row["correlation_id"], "Details": row["details"]}
        out |= {"PrevHash": row["prev_hash"], "Hash": row["hash"]}
        strings.append({k: json.dumps(v) if k == "Details" else str(v) for k, v in out.items()})
    path.write_text(json.dumps(strings))
    return path


def key_and_anchor(home: Path, tmp_path: Path) -> tuple[Path, Path]:
    """What an operator fetches: the Key Vault secret's value, the head row as JSON."""
    key = tmp_path / "chain.key"
    key.write_text(json.loads((home / "secrets.json").read_text())["audit-chain-key"] + "\n")
    with sqlite3.connect(home / "state.db") as db:
        (value,) = db.execute("SELECT value FROM state WHERE kind = 'audit'").fetchone()
    head = json.loads(value)
    anchor = tmp_path / "head.json"
    anchor.write_text(json.dumps({"PartitionKey": "~audit", "RowKey": "head", **{
        "Seq": head["seq"], "Hash": head["hash"], "Mac": head["mac"]}}))  # fmt: skip
    return key, anchor


# Without the first record an export is a slice (Log Analytics retention drops old records):
# verify says so instead (test_an_export_that_starts_late_is_called_a_slice).
EXPORT_ATTACKS = [attack for attack in ATTACKS if attack[0] != "delete the first"]


@pytest.mark.parametrize(
    ("name", "attack", "seq", "why"), EXPORT_ATTACKS, ids=[a[0] for a in EXPORT_ATTACKS]
)
def test_a_log_analytics_export(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    attack: Attack,
    seq: int,
    why: str,
) -> None:
    key, anchor = key_and_anchor(home, tmp_path)
    nowhere = str(tmp_path / "no-home")  # the operator's machine: no local trail, no key
    exported = export(home, read(home), tmp_path / "whole.json")
    flags = ("--records", str(exported), "--key-file", str(key), "--anchor", str(anchor))
    assert verify(capsys, nowhere, *flags)[0] == 0
    tampered = export(home, attack(read(home)), tmp_path / "rows.json")
    code, out = verify(capsys, nowhere, "--records", str(tampered), *flags[2:])
    assert code == 1, f"{name}: {out}"
    assert out.startswith(f"audit chain BROKEN at seq {seq}: "), out


def test_an_export_without_the_key_is_never_valid(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = str(tmp_path / "no-home")
    forged = export(home, append_forged(unkeyed)(read(home)), tmp_path / "rows.json")
    code, out = verify(capsys, nowhere, "--records", str(forged))
    assert code == 1
    assert out.startswith(f"audit chain NOT VERIFIED: {LAST + 1} records, seqs and links intact")
    assert "not checked: the keyed hashes" in out and "--key-file" in out


def test_an_export_without_the_anchor_says_truncation_was_not_checked(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = key_and_anchor(home, tmp_path)
    cut = export(home, read(home)[:-3], tmp_path / "rows.json")
    code, out = verify(
        capsys, str(tmp_path / "none"), "--records", str(cut), "--key-file", str(key)
    )
    assert code == 0 and "not checked: that no newest records were cut off" in out


ANCHOR_ATTACKS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("claims one more", lambda h: {**h, "seq": h["seq"] + 1}, "MAC does not verify"),
    ("names another hash", lambda h: {**h, "hash": "0" * 64}, "MAC does not verify"),
    ("another mac", lambda h: {**h, "mac": "0" * 64}, "MAC does not verify"),
    ("malformed", lambda h: {"seq": "many"}, "malformed"),
    ("deleted", lambda h: None, "no anchor"),
]


@pytest.mark.parametrize(
    ("name", "change", "why"), ANCHOR_ATTACKS, ids=[a[0] for a in ANCHOR_ATTACKS]
)
def test_a_tampered_anchor(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    change: Callable[[dict[str, Any]], Any],
    why: str,
) -> None:
    with sqlite3.connect(home / "state.db") as db:
        (value,) = db.execute("SELECT value FROM state WHERE kind = 'audit'").fetchone()
        changed = change(json.loads(value))
        if changed is None:
            db.execute("DELETE FROM state WHERE kind = 'audit'")
        else:
            db.execute("UPDATE state SET value = ? WHERE kind = 'audit'", (json.dumps(changed),))
    code, out = verify(capsys, str(home))
    assert code == 1 and "BROKEN" in out and why in out, out


def test_a_replaced_or_missing_key(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = home / "secrets.json"
    secrets.write_text(json.dumps({"audit-chain-key": ATTACKER.secret.hex()}))
    code, out = verify(capsys, str(home))
    assert code == 1 and "BROKEN at seq 1: " in out and "not the key" in out
    secrets.write_text("{}")
    code, out = verify(capsys, str(home))
    assert code == 1 and out.startswith("audit chain NOT VERIFIED")


def test_an_old_unkeyed_trail_is_reported_as_such(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = read(home)
    for row in rows:
        row["schema_version"] = 1
    write(home, reseal(rows, 0))
    code, out = verify(capsys, str(home))
    assert code == 1 and "BROKEN at seq 1: schema_version 1: an unkeyed record" in out


@pytest.mark.parametrize("attack", ["delete the last", "append, sha256 hash", "swap two"])
def test_the_cli_as_a_subprocess(home: Path, attack: str) -> None:
    _, change, seq, _ = next(a for a in ATTACKS if a[0] == attack)
    write(home, change(read(home)))
    run = subprocess.run(
        [str(MLOPS), "--home", str(home), "audit", "verify"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1 and f"BROKEN at seq {seq}" in run.stdout, run.stderr


@pytest.mark.parametrize(
    ("cut", "seq", "why"),
    [
        ((16,), 16, "not the one the anchor names"),  # the anchor, left as it was, says so
        ((15, 16), 15, "no checkpoint within 4 records"),  # the checkpoint due at 15 is gone
    ],
)
def test_appends_after_a_truncation_never_hide_it(
    home: Path, cut: tuple[int, ...], seq: int, why: str
) -> None:
    write(home, delete(*cut)(read(home)))
    sink = SqliteAuditSink(home / "audit.db", FakeClock(START + timedelta(hours=1)))
    for n in range(3):  # the app goes on writing, over the seqs that were cut
        sink.append(entry(100 + n))
    report = sink.verify()
    sink.close()
    assert (report.valid, report.first_bad_seq) == (False, seq)
    assert why in report.problem


def test_an_export_that_starts_late_is_called_a_slice(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, anchor = key_and_anchor(home, tmp_path)
    late = export(home, read(home)[3:], tmp_path / "rows.json")
    flags = ("--key-file", str(key), "--anchor", str(anchor))
    code, out = verify(capsys, str(tmp_path / "none"), "--records", str(late), *flags)
    assert code == 0 and f"{LAST - 3} records" in out
    assert "not checked: records before seq 4 (this is a slice of the trail)" in out
