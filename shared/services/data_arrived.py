"""Training data arrived: validate, deduplicate and add the blob to its dataset's window.

An event is only a claim about a blob. What the app remembers (the idempotency key, the
window member, the accepted file) is what the store says about the blob: its name, eTag,
length and content type. An event whose claims disagree with the store is stale or forged:
it is rejected with both values in the audit record and leaves nothing behind, so it can
neither make the true event a duplicate nor drop the file from training.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import DataArrived, clip
from shared.domain.validation import check_blob_event, check_data_header
from shared.domain.values import BlobProperties
from shared.ports import AuditSink, BlobStore, Clock, ConcurrencyConflict, NotFound, StateStore
from shared.services.config import ServiceSettings
from shared.services.idempotency import DUPLICATE, Handled, already_handled, remember

WINDOW = "window"
WINDOW_BLOB = "window_blob"
DATASET_FILE = "dataset_file"  # key: dataset/<hash of blob path>; the latest accepted version
HEAD_BYTES = 64 * 1024
_CAS_ATTEMPTS = 50


class ClaimsDisagree(Rejected):
    """The event describes a blob version the store does not hold (stale or forged)."""

    def __init__(self, reason: str, claimed: dict[str, Any], stored: dict[str, Any]) -> None:
        super().__init__(reason, field="data")
        self.claimed = claimed
        self.stored = stored


@dataclass(frozen=True)
class _Blob:
    """The blob as the store describes it, and the key its outcome is remembered by."""

    props: BlobProperties
    key: str  # blob:<container>/<path>@<etag>:<length>:<content type>


def handle_data_arrived(
    event: DataArrived,
    *,
    state: StateStore,
    blobs: BlobStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
) -> Handled:
    """Accept one BlobCreated event. Raises Rejected (audited here) or TransientError."""
    event_key = f"event:{event.meta.id}"
    if already_handled(state, [event_key]) is not None:
        _audit(audit, event, "duplicate", "already handled (event key)")
        return DUPLICATE
    try:
        blob = _as_stored(event, blobs, settings)
    except ClaimsDisagree as lie:
        _audit(audit, event, "rejected", lie.reason, claimed=lie.claimed, stored=lie.stored)
        raise
    except Rejected as rejected:  # judged on the event's claims alone: nothing remembered
        _audit(audit, event, "rejected", rejected.reason)
        raise
    keys = (event_key, blob.key)
    if already_handled(state, [blob.key]) is not None:
        _audit(audit, event, "duplicate", "already handled (blob key)", blob=blob)
        return DUPLICATE
    try:
        _check_content(event, blob.props, blobs, settings.max_blob_bytes)
    except Rejected as rejected:  # the stored version itself is bad, whoever announces it
        _audit(audit, event, "rejected", rejected.reason, blob=blob)
        remember(state, keys, outcome="rejected", at=_now(clock))
        raise
    _record_dataset_file(event, blob, state)
    window_id, joined = _add_to_window(event, blob, state, _now(clock))
    remember(state, keys, outcome="accepted", at=_now(clock))
    if not joined:  # a concurrent delivery of the same blob version joined the window first
        _audit(audit, event, "duplicate", "already handled (blob key)", blob=blob)
        return DUPLICATE
    _audit(audit, event, "accepted", f"added to window {window_id}", blob=blob, window_id=window_id)
    return Handled("accepted", started=window_id)


def _as_stored(event: DataArrived, blobs: BlobStore, settings: ServiceSettings) -> _Blob:
    """The event's own checks, then the store's description of the blob, which must agree."""
    check_blob_event(
        event,
        account_url=settings.storage_account_url,
        container=settings.training_container,
        allowed_extensions=settings.allowed_extensions,
        allowed_content_types=settings.allowed_content_types,
        max_bytes=settings.max_blob_bytes,
    )
    try:
        props = blobs.properties(event.url)
    except NotFound:
        raise Rejected("blob no longer exists", field="data.url") from None
    except ValueError as error:
        raise Rejected(str(error), field="data.url") from None
    claimed = {"etag": event.etag, "size": event.size, "content_type": event.content_type}
    stored = {"etag": props.etag, "size": props.size, "content_type": props.content_type}
    differ = [name for name in claimed if not _same(name, claimed[name], stored[name])]
    if differ:
        said = "; ".join(
            f"{name} {clip(str(claimed[name]), 40)}, the store {clip(str(stored[name]), 40)}"
            for name in differ
        )
        raise ClaimsDisagree(
            f"event disagrees with the store (stale or forged): {said}", claimed, stored
        )
    key = (
        f"blob:{event.container}/{event.blob_path}@{_etag(props.etag)}:{props.size}:"
        f"{_media(props.content_type)}"
    )
    return _Blob(props, key)


def _same(name: str, claimed: object, stored: object) -> bool:
    if name == "etag":
        return _etag(str(claimed)) == _etag(str(stored))
    if name == "content_type":
        return _media(str(claimed)) == _media(str(stored))
    return claimed == stored


def _etag(value: str) -> str:
    """Event Grid's eTag and the store's may differ only in the HTTP quotes around it."""
    return value.strip().removeprefix("W/").strip('"')


def _media(value: str) -> str:
    return value.strip().lower()  # type, subtype and charset compare case-insensitively


def _check_content(
    event: DataArrived, props: BlobProperties, blobs: BlobStore, max_bytes: int
) -> None:
    if props.size == 0 or props.size > max_bytes:
        raise Rejected(f"blob size {props.size} is outside 1..{max_bytes} bytes")
    extension = PurePosixPath(event.blob_path).suffix.lower()
    check_data_header(blobs.read_head(event.url, HEAD_BYTES), extension)


def _add_to_window(
    event: DataArrived, blob: _Blob, state: StateStore, now: str
) -> tuple[str, bool]:
    """Open or extend the dataset's quiet window; compare-and-set so racing events agree.
    Also whether this delivery added the blob (False: a racing one already had)."""
    member = _digest(blob.key)
    counted_in = ""  # the window this blob was already counted in, across CAS retries
    for _ in range(_CAS_ATTEMPTS):
        stored = state.get(WINDOW, event.dataset)
        doc = dict(stored.value) if stored else {}
        if doc.get("status") != "open":
            doc = {
                "dataset": event.dataset,
                "window_id": _digest(f"{event.dataset}|{blob.key}")[:16],
                "status": "open",
                "opened": now,
                "first_event": event.meta.id,
                "blobs": 0,
            }
        if counted_in != doc["window_id"] and _join(
            state, str(doc["window_id"]), member, event, blob
        ):
            counted_in = str(doc["window_id"])
        if counted_in == doc["window_id"]:
            doc["blobs"] = int(doc["blobs"]) + 1
        doc["last_event"] = now
        try:
            state.put(WINDOW, event.dataset, doc, etag=stored.etag if stored else None)
            return str(doc["window_id"]), counted_in == doc["window_id"]
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict(f"window for dataset {event.dataset!r} is too contended")


def _record_dataset_file(event: DataArrived, blob: _Blob, state: StateStore) -> None:
    # Keyed by the blob's name, not the URL's spelling: one file is one entry.
    key = f"{event.dataset}/{_digest(f'{event.container}/{event.blob_path}')}"
    doc = _file_doc(event, blob)
    for _ in range(_CAS_ATTEMPTS):
        stored = state.get(DATASET_FILE, key)
        try:
            state.put(DATASET_FILE, key, doc, etag=stored.etag if stored else None)
            return
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict(f"dataset file {event.url} is too contended")


def _join(state: StateStore, window_id: str, member: str, event: DataArrived, blob: _Blob) -> bool:
    """Record the blob as a window member; False when another event made this blob version
    one. A member left by this same event is its own earlier attempt, which gave up before the
    window counted it (CAS retries exhausted): the redelivery finishes what it started."""
    key = f"{window_id}/{member}"
    try:
        state.put(WINDOW_BLOB, key, _file_doc(event, blob), etag=None)
    except ConcurrencyConflict:
        existing = state.get(WINDOW_BLOB, key)
        return existing is not None and existing.value.get("event") == event.meta.id
    return True


def _file_doc(event: DataArrived, blob: _Blob) -> dict[str, Any]:
    """What training is told about a file: the store's eTag and length, never the event's."""
    return {
        "url": event.url,
        "etag": blob.props.etag,
        "size": blob.props.size,
        "event": event.meta.id,
    }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _now(clock: Clock) -> str:
    return clock.now().isoformat(timespec="microseconds")


def _audit(
    audit: AuditSink,
    event: DataArrived,
    outcome: Outcome,
    reason: str,
    *,
    blob: _Blob | None = None,
    **details: Any,
) -> None:
    """The event's claims, or the store's values once they are known (they then agree)."""
    described = blob.props if blob else None
    facts = {
        "url": event.url,
        "etag": described.etag if described else event.etag,
        "size": described.size if described else event.size,
    }
    audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="data.received",
            target=f"{event.dataset or '-'}:{event.blob_path}",
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details={**facts, **details},
        )
    )
