"""Properties of the keyed chain, for any trail and any single change to it: an untouched
trail verifies; a changed one fails at or before the first seq that was changed, whatever
the change (an edited field, a deleted, forged, swapped or replayed record, a truncation),
and also without the anchor for everything but a truncation of the newest records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.audit import (
    GENESIS_HASH,
    OUTCOMES,
    AuditEntry,
    Cadence,
    ChainKey,
    Head,
    canonical,
    head_mac,
    record_hash,
    seal,
)
from shared.domain.audit_verify import verify_chain

KEY = ChainKey(bytes(range(32)))
OTHER = ChainKey(bytes(range(100, 132)))
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
Record = dict[str, Any]

text = st.text(max_size=20)  # any Unicode: controls, bidi overrides, surrogates excluded
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
entries = st.builds(
    AuditEntry,
    actor=text,
    action=st.sampled_from(["data.received", "rollout.canary", "operator.rollback"]),
    target=text,
    outcome=st.sampled_from(OUTCOMES),
    reason=text,
    correlation_id=text,
    details=st.dictionaries(text, json_value, max_size=3),
)


def build(items: list[AuditEntry], every: int) -> tuple[list[Record], Head]:
    """The records a sink writes for ``items`` (checkpoints included), and its anchor as
    the state store would hold it."""
    records: list[Record] = []
    cadence, prev = Cadence(0, every), GENESIS_HASH
    for n, item in enumerate(items):
        sealed = seal(
            item,
            seq=len(records) + 1,
            time=START + timedelta(seconds=n),
            prev_hash=prev,
            key=KEY,
            cadence=cadence,
            every=every,
        )
        if len(sealed) > 1:
            cadence = Cadence(sealed[-1].seq, every)
        records += [record.to_dict() for record in sealed]
        prev = sealed[-1].hash
    return records, Head(records[-1]["seq"], records[-1]["hash"], "")


def anchored(head: Head) -> dict[str, Any]:
    return {"seq": head.seq, "hash": head.hash, "mac": head_mac(KEY, head.seq, head.hash)}


@dataclass(frozen=True)
class Change:
    kind: str
    index: int
    field: str = ""
    value: Any = None
    other: int = 0


FIELDS = ["schema_version", "seq", "time", "actor", "action", "target", "outcome", "reason"]
FIELDS += ["correlation_id", "details", "prev_hash", "hash"]
changes = st.builds(
    Change,
    kind=st.sampled_from(["edit", "delete", "truncate", "forge", "swap", "replay", "append"]),
    index=st.integers(0, 10_000),
    field=st.sampled_from(FIELDS),
    value=json_value | st.just("f" * 64),
    other=st.integers(0, 10_000),
)


def unkeyed(record: Record) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def apply(records: list[Record], change: Change) -> tuple[list[Record], int] | None:
    """The changed trail and the first seq changed; None when the change changes nothing."""
    out = [dict(record) for record in records]
    i, j = change.index % len(out), change.other % len(out)
    seq = out[i]["seq"]
    if change.kind == "edit":
        if out[i][change.field] == change.value:
            return None
        out[i][change.field] = change.value
    elif change.kind == "delete":
        del out[i]
    elif change.kind == "truncate":
        del out[i:]
    elif change.kind == "forge":  # a record with right links and a recomputed sha256
        forged = {**out[i], "reason": f"{out[i]['reason']}!", "action": "operator.rollback"}
        forged["hash"] = unkeyed(forged)
        out[i] = forged
    elif change.kind == "swap":
        if i == j or {**out[i], "seq": 0} == {**out[j], "seq": 0}:
            return None
        out[i], out[j] = out[j], out[i]
        seq = min(out[i]["seq"], out[j]["seq"])
    elif change.kind == "replay":  # another record's contents, relinked, under this seq
        if i == j:
            return None
        out[i] = {**out[j], "seq": out[i]["seq"], "prev_hash": out[i]["prev_hash"]}
    else:  # append: correctly linked, but sealed under another key
        last = out[-1]
        extra = {**last, "seq": last["seq"] + 1, "prev_hash": last["hash"], "reason": "late"}
        extra["hash"] = record_hash(extra, OTHER)
        out.append(extra)
        seq = extra["seq"]
    return out, seq


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries, min_size=1, max_size=25), st.integers(1, 6))
def test_an_untouched_trail_verifies(items: list[AuditEntry], every: int) -> None:
    records, head = build(items, every)
    report = verify_chain(records, key=KEY, anchor=anchored(head), anchored=True)
    assert report.valid, report
    assert report.records == len(records) and not report.unchecked


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries, min_size=1, max_size=25), st.integers(1, 6), changes)
def test_any_single_change_fails_at_or_before_the_changed_seq(
    items: list[AuditEntry], every: int, change: Change
) -> None:
    records, head = build(items, every)
    changed = apply(records, change)
    if changed is None:
        return
    trail, seq = changed
    report = verify_chain(trail, key=KEY, anchor=anchored(head), anchored=True)
    assert not report.valid, (change, report)
    assert report.first_bad_seq is not None and report.first_bad_seq <= seq, (change, report)
    if change.kind == "truncate" or (change.kind == "delete" and seq == head.seq):
        return  # only the anchor can tell that the newest records are gone
    unanchored = verify_chain(trail, key=KEY)
    assert not unanchored.valid and unanchored.first_bad_seq is not None, (change, unanchored)
    assert unanchored.first_bad_seq <= seq, (change, unanchored)


@settings(max_examples=100, deadline=None)
@given(st.lists(entries, min_size=1, max_size=15), st.integers(1, 6), changes)
def test_without_the_key_nothing_is_ever_called_valid(
    items: list[AuditEntry], every: int, change: Change
) -> None:
    records, head = build(items, every)
    trail = (apply(records, change) or (records, 0))[0]
    report = verify_chain(trail, key=None, anchor=anchored(head), anchored=True)
    assert not report.valid
