"""An operator (or a pipeline after a deploy) asks the app to retrain a dataset on the files it
already accepted, without uploading anything.

The request opens the dataset's coalescing window over its accepted, non-quarantined files,
or reuses the one already open, and makes it due now (``close_by``): the reconciler's next
tick submits ONE job through its usual, recorded path, so the deploy gate later finds a job
this app submitted. There is no second way to submit a job.

A request is remembered under its operation id (``tr-``), derived from the principal and the
operation key, so a retried request (same Idempotency-Key) finds it and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from shared.domain.events import clip
from shared.domain.principal import Principal
from shared.domain.values import Stored
from shared.ports import AuditSink, Clock, ConcurrencyConflict, NotFound, StateStore
from shared.services.config import ServiceSettings
from shared.services.data_arrived import DATASET_FILE, WINDOW, WINDOW_BLOB
from shared.services.isolation import PARKED, quarantined
from shared.services.operations import audit_operator_action
from shared.services.reconciler import JOB, job_name, window_due

TRAIN_REQUEST = "train_request"  # key: operation id; value: dataset, window, who, why, when
PREFIX = "tr-"
ACTION = "operator.train"
_CAS_ATTEMPTS = 50
_PHASES = {"running": "submitted", "completed": "completed"}  # any other job status: failed


class NoAcceptedFiles(NotFound):
    """The dataset holds no accepted file that is not quarantined: nothing to train on."""


def operation_id(principal: Principal, operation_key: str) -> str:
    key = f"train:{principal.object_id}:{operation_key}"
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:20]


def request_training(
    dataset: str,
    *,
    principal: Principal,
    reason: str,
    operation_key: str,
    state: StateStore,
    clock: Clock,
    audit: AuditSink,
) -> str:
    """Open or reuse the dataset's window, due now; return the operation id. Raises
    NoAcceptedFiles (audited) or TransientError / ConcurrencyConflict (nothing recorded)."""
    op_id = operation_id(principal, operation_key)
    if state.get(TRAIN_REQUEST, op_id) is not None:
        return op_id  # the same request again: it already did its work
    files = _accepted(state, dataset)
    if not files:
        why = f"dataset {clip(dataset)} has no accepted file to train on"
        audit_operator_action(audit, principal, ACTION, dataset, "rejected", op_id, why, reason)
        raise NoAcceptedFiles(why)
    now = _now(clock)
    window_id, reused = _open_window(state, dataset, files, principal, op_id, now)
    doc = {
        "dataset": dataset,
        "window_id": window_id,
        "reused": reused,
        "files": len(files),
        "reason": reason,
        "at": now,
        "actor": principal.actor,
        **principal.audit_details(),
    }
    try:
        state.put(TRAIN_REQUEST, op_id, doc, etag=None)
    except ConcurrencyConflict:
        return op_id  # a concurrent retry of this very request recorded it first
    how = "joined the open window" if reused else "opened a window"
    audit_operator_action(
        audit,
        principal,
        ACTION,
        dataset,
        "accepted",
        op_id,
        f"{how} {window_id} over {len(files)} accepted file(s), due now",
        reason,
        {"window_id": window_id, "files": len(files)},
    )
    return op_id


def training_view(
    op_id: str, *, state: StateStore, settings: ServiceSettings
) -> dict[str, Any] | None:
    """What GET /api/operations/{id} answers for a training request; None if unknown."""
    stored = state.get(TRAIN_REQUEST, op_id)
    if stored is None:
        return None
    request = stored.value
    dataset, window_id = str(request["dataset"]), str(request["window_id"])
    job = job_name(dataset, window_id)
    phase, job_status, error, due = _progress(state, settings, dataset, window_id, job)
    principal = request.get("principal", {})
    return {
        "operation_id": op_id,
        "kind": "train",
        "dataset": dataset,
        "requested_by": {"actor": request["actor"], "name": principal.get("name")},
        "reason": request["reason"],
        "requested_at": request["at"],
        "window_id": window_id,
        "files": int(request["files"]),
        "phase": phase,
        "active": phase in ("waiting", "submitted"),
        "outcome": {"completed": "succeeded", "failed": "failed"}.get(phase),
        "due": due,
        "job": {"name": job, "status": job_status} if job_status else None,
        "error": error,
    }


def _progress(
    state: StateStore, settings: ServiceSettings, dataset: str, window_id: str, job: str
) -> tuple[str, str | None, str | None, str | None]:
    """(phase, job status, error, due) from the job, the window or the parked record."""
    tracked = state.get(JOB, job)
    if tracked is not None:
        status = str(tracked.value.get("status", "running"))
        phase = _PHASES.get(status, "failed")
        error = str(tracked.value.get("error") or status) if phase == "failed" else None
        return phase, status, error, None
    window = state.get(WINDOW, dataset)
    if window is not None and window.value.get("window_id") == window_id:
        opened = window.value.get("status")
        if opened == "open":
            return "waiting", None, None, _iso(window_due(window.value, settings))
        if opened == "failed":
            return "failed", None, str(window.value.get("error", "")), None
    parked = state.get(PARKED, f"window/{window_id}")
    if parked is not None:
        return "failed", None, str(parked.value.get("reason", "")), None
    # Closed and not parked: submitted, its job about to be tracked (the reconciler writes
    # the window first), or the window document already reused by the next upload.
    return "submitted", "running", None, None


def _accepted(state: StateStore, dataset: str) -> list[Stored]:
    """The dataset's accepted file versions that are not quarantined, as the state knows them
    (the reconciler asks the store again when it submits, and quarantines what it refuses)."""
    return [
        stored
        for stored in state.list(DATASET_FILE, prefix=f"{dataset}/")
        if not quarantined(state, stored.key, str(stored.value.get("etag", "")))
    ]


def _open_window(
    state: StateStore,
    dataset: str,
    files: Sequence[Stored],
    principal: Principal,
    op_id: str,
    now: str,
) -> tuple[str, bool]:
    """The window id and whether it was already open. Compare-and-set, as uploads do."""
    asked = {"close_by": now, "requested_by": principal.actor, "operation_id": op_id}
    for _ in range(_CAS_ATTEMPTS):
        stored = state.get(WINDOW, dataset)
        current = dict(stored.value) if stored else {}
        reused = current.get("status") == "open"
        if reused:
            earlier = current.get("close_by")
            if earlier and datetime.fromisoformat(str(earlier)) < datetime.fromisoformat(now):
                asked = {**asked, "close_by": str(earlier)}
            doc = {**current, **asked}
        else:
            doc = _new_window(state, dataset, files, op_id, now) | asked
        try:
            state.put(WINDOW, dataset, doc, etag=stored.etag if stored else None)
        except ConcurrencyConflict:
            continue  # an upload or the reconciler changed it: look again
        return str(doc["window_id"]), reused
    raise ConcurrencyConflict(f"window for dataset {dataset!r} is too contended")


def _new_window(
    state: StateStore, dataset: str, files: Sequence[Stored], op_id: str, now: str
) -> dict[str, Any]:
    """A window whose members are the accepted files (the job's tags name the first) and whose
    first event is the operation, so the job's records carry the operation id."""
    window_id = hashlib.sha256(f"{dataset}|{op_id}".encode()).hexdigest()[:16]
    for stored in files:
        member = _member(stored.key, str(stored.value.get("etag", "")))
        with suppress(ConcurrencyConflict):  # written by an earlier attempt of this request
            state.put(WINDOW_BLOB, f"{window_id}/{member}", dict(stored.value), etag=None)
    return {
        "dataset": dataset,
        "window_id": window_id,
        "status": "open",
        "opened": now,
        "first_event": op_id,
        "blobs": len(files),
        "last_event": now,
    }


def _member(file_key: str, etag: str) -> str:
    return hashlib.sha256(f"{file_key}@{etag}".encode()).hexdigest()[:32]


def _now(clock: Clock) -> str:
    return clock.now().isoformat(timespec="microseconds")


def _iso(moment: datetime) -> str:
    return moment.isoformat("T", "seconds")
