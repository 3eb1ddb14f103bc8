"""Training data arrived: validate, deduplicate and add the blob to its dataset's window."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import DataArrived
from shared.domain.validation import check_blob_event, check_data_header
from shared.ports import ConcurrencyConflict, NotFound
from shared.services.deps import Deps
from shared.services.idempotency import DUPLICATE, Handled, already_handled, remember

WINDOW = "window"
WINDOW_BLOB = "window_blob"
DATASET_FILE = "dataset_file"  # key: dataset/<hash of url>; the latest accepted version
HEAD_BYTES = 64 * 1024
_CAS_ATTEMPTS = 50


def handle_data_arrived(event: DataArrived, deps: Deps) -> Handled:
    """Accept one BlobCreated event. Raises Rejected (audited here) or TransientError."""
    keys = (f"event:{event.meta.id}", event.business_key)
    if (seen := already_handled(deps.state, keys)) is not None:
        _audit(deps, event, "duplicate", f"already handled ({seen.split(':', 1)[0]} key)")
        return DUPLICATE
    try:
        _validate(event, deps)
    except Rejected as rejected:
        _audit(deps, event, "rejected", rejected.reason)
        remember(deps.state, keys, outcome="rejected", at=_now(deps))
        raise
    _record_dataset_file(event, deps)
    window_id = _add_to_window(event, deps)
    remember(deps.state, keys, outcome="accepted", at=_now(deps))
    _audit(deps, event, "accepted", f"added to window {window_id}", window_id=window_id)
    return Handled("accepted", started=window_id)


def _validate(event: DataArrived, deps: Deps) -> None:
    settings = deps.settings
    check_blob_event(
        event,
        account_url=settings.storage_account_url,
        container=settings.training_container,
        allowed_extensions=settings.allowed_extensions,
        allowed_content_types=settings.allowed_content_types,
        max_bytes=settings.max_blob_bytes,
    )
    # The event is only a hint: trust what the store says about the blob now.
    try:
        props = deps.blobs.properties(event.url)
    except NotFound:
        raise Rejected("blob no longer exists", field="data.url") from None
    except ValueError as error:
        raise Rejected(str(error), field="data.url") from None
    if props.size == 0 or props.size > settings.max_blob_bytes:
        raise Rejected(f"blob size {props.size} is outside 1..{settings.max_blob_bytes} bytes")
    extension = PurePosixPath(event.blob_path).suffix.lower()
    check_data_header(deps.blobs.read_head(event.url, HEAD_BYTES), extension)


def _add_to_window(event: DataArrived, deps: Deps) -> str:
    """Open or extend the dataset's quiet window; compare-and-set so racing events agree."""
    now = _now(deps)
    member = hashlib.sha256(event.business_key.encode()).hexdigest()[:32]
    counted_in = ""  # the window this blob was already counted in, across CAS retries
    for _ in range(_CAS_ATTEMPTS):
        stored = deps.state.get(WINDOW, event.dataset)
        doc = dict(stored.value) if stored else {}
        if doc.get("status") != "open":
            doc = {
                "dataset": event.dataset,
                "window_id": _window_id(event),
                "status": "open",
                "opened": now,
                "first_event": event.meta.id,
                "blobs": 0,
            }
        if counted_in != doc["window_id"] and _join(deps, str(doc["window_id"]), member, event):
            counted_in = str(doc["window_id"])
        if counted_in == doc["window_id"]:
            doc["blobs"] = int(doc["blobs"]) + 1
        doc["last_event"] = now
        try:
            deps.state.put(WINDOW, event.dataset, doc, etag=stored.etag if stored else None)
            return str(doc["window_id"])
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict(f"window for dataset {event.dataset!r} is too contended")


def _record_dataset_file(event: DataArrived, deps: Deps) -> None:
    key = f"{event.dataset}/{hashlib.sha256(event.url.encode()).hexdigest()[:32]}"
    doc = {"url": event.url, "etag": event.etag, "size": event.size, "event": event.meta.id}
    for _ in range(_CAS_ATTEMPTS):
        stored = deps.state.get(DATASET_FILE, key)
        try:
            deps.state.put(DATASET_FILE, key, doc, etag=stored.etag if stored else None)
            return
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict(f"dataset file {event.url} is too contended")


def _join(deps: Deps, window_id: str, member: str, event: DataArrived) -> bool:
    """Record the blob as a window member; False when this blob version is already one."""
    try:
        deps.state.put(
            WINDOW_BLOB,
            f"{window_id}/{member}",
            {"url": event.url, "etag": event.etag, "size": event.size, "event": event.meta.id},
            etag=None,
        )
    except ConcurrencyConflict:
        return False
    return True


def _window_id(event: DataArrived) -> str:
    return hashlib.sha256(f"{event.dataset}|{event.business_key}".encode()).hexdigest()[:16]


def _now(deps: Deps) -> str:
    return deps.clock.now().isoformat(timespec="microseconds")


def _audit(deps: Deps, event: DataArrived, outcome: Outcome, reason: str, **details: str) -> None:
    deps.audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="data.received",
            target=f"{event.dataset or '-'}:{event.blob_path}",
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details={"url": event.url, "etag": event.etag, "size": event.size, **details},
        )
    )
