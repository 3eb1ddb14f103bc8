"""Verifying a keyed audit chain (DESIGN.md section 10): seqs, links, keyed hashes,
checkpoints, and the end of the trail against its anchor."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from shared.domain.audit import (
    CHECKPOINT_ACTION,
    GENESIS_HASH,
    SCHEMA_VERSION,
    UNKEYED_SCHEMA_VERSION,
    Cadence,
    ChainKey,
    ChainReport,
    Head,
    head_mac,
    record_hash,
)

NO_KEY = (
    "the keyed hashes: without the chain key anyone could have edited, re-sealed or "
    "appended records with hashes that look right"
)
NO_ANCHOR = "that no newest records were cut off: no anchor (head) to compare the end with"


class StoredRecord(dict[str, Any]):
    """A record as a store read it: ``details`` still as the stored JSON text, and ``sealed``,
    the bytes the store believes were sealed (its own rendering of the canonical form). The
    walk trusts ``sealed`` only when the MAC over it matches the record's hash: then those
    are the sealed bytes. Otherwise (another rendering, a damaged record) the record is
    decoded and hashed as any other. Decoding only the records that need it is most of what
    makes `mlops audit verify` fast (issue 15)."""

    __slots__ = ("sealed",)

    def __init__(self, fields: Mapping[str, Any], sealed: bytes | None) -> None:
        super().__init__(fields)
        self.sealed = sealed

    def decoded(self) -> dict[str, Any]:
        """The record with its details parsed; undecodable details stay text (and fail)."""
        record = dict(self)
        with suppress(json.JSONDecodeError, TypeError):
            record["details"] = json.loads(record["details"])
        return record


def _decoded(record: Mapping[str, Any]) -> Mapping[str, Any]:
    return record.decoded() if isinstance(record, StoredRecord) else record


class _Broken(Exception):
    def __init__(self, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.seq, self.problem = seq, problem


class _Walk:
    """Checks records one at a time, in seq order; raises _Broken at the first bad one."""

    def __init__(
        self, key: ChainKey | None, first_seq: int, prev_hash: str, watch: int | None
    ) -> None:
        self.key, self.expected, self.prev = key, first_seq, prev_hash
        self.count, self.last_seq = 0, first_seq - 1
        self.watch, self.watched = watch, ""  # the anchor's seq, and the hash found there
        self.cadence: Cadence | None = None  # unknown until a checkpoint is seen

    def step(self, record: Mapping[str, Any]) -> None:
        self.count += 1
        seq = _seq(record, self.expected)
        if self.count > 1 and seq == self.last_seq:
            raise _Broken(seq, f"seq {seq} appears twice with different contents")
        if seq != self.expected:
            gap = f"record {self.expected} is missing" if seq > self.expected else "out of order"
            raise _Broken(self.expected, f"expected seq {self.expected}, found {seq}: {gap}")
        version = record.get("schema_version")
        if version == UNKEYED_SCHEMA_VERSION:
            raise _Broken(seq, "schema_version 1: an unkeyed record, from before the keyed "
                          "chain; anyone can recompute its hash (start a new trail)")  # fmt: skip
        if version != SCHEMA_VERSION:
            raise _Broken(seq, f"unknown schema_version {version!r}")
        if record.get("prev_hash") != self.prev:
            raise _Broken(seq, "prev_hash does not match previous record")
        self._hash(record, seq)
        if record.get("action") == CHECKPOINT_ACTION:
            self._checkpoint(record, seq)
        elif self.cadence and seq - self.cadence.seq > self.cadence.every:
            raise _Broken(seq, f"no checkpoint within {self.cadence.every} records after "
                          f"the one at seq {self.cadence.seq}: one was removed")  # fmt: skip
        self.prev, self.expected, self.last_seq = str(record["hash"]), seq + 1, seq
        if seq == self.watch:
            self.watched = self.prev

    def _hash(self, record: Mapping[str, Any], seq: int) -> None:
        if self.key is None:
            return
        sealed = record.sealed if isinstance(record, StoredRecord) else None
        if sealed is not None and _same(self.key.mac(sealed), str(record.get("hash"))):
            return
        try:
            expected = record_hash(_decoded(record), self.key)
        except (TypeError, ValueError):  # not JSON any more: the record was damaged
            expected = ""
        if not _same(expected, str(record.get("hash"))):
            hint = " (or this is not the key the trail was sealed with)" if self.count == 1 else ""
            raise _Broken(seq, f"hash does not match record contents under the chain key{hint}")

    def _checkpoint(self, record: Mapping[str, Any], seq: int) -> None:
        details = _decoded(record).get("details")
        fields = details if isinstance(details, Mapping) else {}
        every = fields.get("every")
        if fields.get("head_seq") != seq - 1 or fields.get("head_hash") != record.get("prev_hash"):
            raise _Broken(seq, "the checkpoint does not name the record before it")
        if not isinstance(every, int) or every < 1:
            raise _Broken(seq, "the checkpoint promises no next checkpoint ('every')")
        mac = str(fields.get("head_mac"))
        if self.key and not _same(head_mac(self.key, seq - 1, self.prev), mac):
            raise _Broken(seq, "the checkpoint's MAC over the head does not verify")
        self.cadence = Cadence(seq, every)

    def anchor(self, head: Head, first_seq: int) -> str:
        """Compare the end of the walk with the anchor; returns what it could not check."""
        last = self.last_seq
        if self.key and not _same(head_mac(self.key, head.seq, head.hash), head.mac):
            raise _Broken(min(head.seq, last), "the anchor's MAC does not verify: it was edited")
        if head.seq > last:
            cut = f"{last + 1}" if head.seq == last + 1 else f"{last + 1}-{head.seq}"
            raise _Broken(last + 1, f"the anchor names seq {head.seq} but the trail ends at "
                          f"seq {last}: record(s) {cut} were cut off")  # fmt: skip
        if head.seq < first_seq:
            return f"the anchor (seq {head.seq}) against this slice, which starts later"
        if self.watched != head.hash:
            raise _Broken(head.seq, f"the record at seq {head.seq} is not the one the anchor "
                          "names: the trail was rewritten from there")  # fmt: skip
        return ""


def _same(computed: str, found: str) -> bool:
    """Constant-time equality that also takes what an attacker wrote (any text, even
    non-ASCII, which ``hmac.compare_digest`` refuses for ``str``)."""
    return hmac.compare_digest(computed.encode(), found.encode("utf-8", "backslashreplace"))


def _seq(record: Mapping[str, Any], expected: int) -> int:
    try:
        return int(record["seq"])
    except (KeyError, TypeError, ValueError):
        raise _Broken(expected, "a record without a numeric seq") from None


def _head(anchor: Mapping[str, Any] | None) -> tuple[Head | None, str]:
    if anchor is None:
        return None, ""
    try:
        return Head.parse(anchor), ""
    except ValueError as error:
        return None, str(error)


def verify_chain(
    records: Iterable[Mapping[str, Any]],
    *,
    key: ChainKey | None,
    first_seq: int = 1,
    prev_hash: str = GENESIS_HASH,
    anchor: Mapping[str, Any] | None = None,
    anchored: bool = False,
) -> ChainReport:
    """Check every seq, link, keyed hash and checkpoint, then the end against ``anchor``;
    report the first record that does not check out. ``anchored``: the trail must have an
    anchor (the local trail); an export may come without one (then truncation of its newest
    records is reported as unchecked). A slice is checked from its own first seq and
    prev_hash. Without ``key`` the report is never valid: unkeyed, links prove nothing."""
    head, malformed = _head(anchor)
    walk = _Walk(key, first_seq, prev_hash, head.seq if head else None)
    unchecked: list[str] = []
    try:
        for record in records:
            walk.step(record)
        if malformed:
            raise _Broken(walk.last_seq, f"the anchor is malformed: {malformed}")
        if head is not None:
            unchecked.append(walk.anchor(head, first_seq))
        elif anchored and walk.count:
            raise _Broken(walk.last_seq, "no anchor for this trail in the state store: the "
                          "newest records may have been cut off")  # fmt: skip
        else:
            unchecked.append(NO_ANCHOR)
    except _Broken as broken:
        return ChainReport(False, walk.count, broken.seq, broken.problem)
    if first_seq > 1:
        unchecked.append(f"records before seq {first_seq} (this is a slice of the trail)")
    if key is None and walk.count:
        unchecked.insert(0, NO_KEY)
    notes = tuple(note for note in unchecked if note)
    if key is None and walk.count:
        return ChainReport(False, walk.count, None, f"not verified: {NO_KEY}", notes)
    return ChainReport(True, walk.count, unchecked=notes)
