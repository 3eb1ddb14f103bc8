"""The timer's work: close quiet windows into training jobs, follow jobs, advance rollouts.

Each window, job and rollout is advanced on its own (``isolation.isolated``): a transient
error leaves that item for the next tick, a permanent one parks it as failed (audited with
the reason, shown by ``mlops status``), and the tick goes on with the others.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.rollout import TERMINAL, Phase, Rollout
from shared.domain.values import ModelRef, Stored, TrainingJobRequest
from shared.ports import (
    AuditSink,
    BlobStore,
    Clock,
    ConcurrencyConflict,
    LiveTraffic,
    MLPlatform,
    NotFound,
    StateStore,
    TransientError,
)
from shared.services.config import ServiceSettings
from shared.services.data_arrived import WINDOW, WINDOW_BLOB
from shared.services.isolation import TRANSIENT, isolated, record_parked
from shared.services.jobs import JOB as JOB  # re-exported: the kind predates jobs.py
from shared.services.jobs import record_job_end
from shared.services.quarantine import accepted_files
from shared.services.rollout_requests import RolloutPorts
from shared.services.rollouts import ROLLOUT, advance, fail, get_rollout

log = logging.getLogger(__name__)

ACTOR = "reconciler"
_MAX_STEPS = 10  # per rollout per tick: enough to chain instant steps, bounded by design
_JOB_NAME_MAX = 64
_SLUG = re.compile(r"[^a-z0-9._-]+")
_ACTIVE_PHASES = tuple(phase.value for phase in Phase if phase not in TERMINAL)


class NothingToTrain(ValueError):
    """Every accepted file of the window's dataset is gone, changed or quarantined."""


@dataclass
class ReconcileReport:
    submitted: list[str] = field(default_factory=list)
    finished: dict[str, str] = field(default_factory=dict)  # job name -> status
    rollouts: dict[str, str] = field(default_factory=dict)  # rollout id -> phase
    errors: list[str] = field(default_factory=list)  # left for the next tick
    parked: list[str] = field(default_factory=list)  # parked as failed this tick, with why
    audit_shipped: int = 0


@dataclass(frozen=True, kw_only=True)
class _Tick(RolloutPorts):
    """What one pass touches: the rollouts' ports and the training data's store."""

    blobs: BlobStore


def reconcile(
    *,
    platform: MLPlatform,
    state: StateStore,
    blobs: BlobStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
    smoke_set: tuple[tuple[str, str], ...],
    traffic: LiveTraffic | None,
) -> ReconcileReport:
    """One idempotent pass; no item's failure stops another's progress."""
    tick = _Tick(
        platform=platform,
        state=state,
        blobs=blobs,
        audit=audit,
        clock=clock,
        settings=settings,
        smoke_set=smoke_set,
        traffic=traffic,
    )
    report = ReconcileReport()
    _ship_audit(tick, report)
    for stored in tick.state.list(WINDOW):
        isolated(
            f"window {stored.value.get('window_id', stored.key)}",
            partial(_close_window, tick, report, stored),
            partial(_park_window, tick, stored),
            report.errors,
            report.parked,
        )
    # Jobs and rollouts through the store's index of the active ones: a tick costs what is
    # in flight, not the history of finished jobs and rollouts (issue 15).
    for stored in tick.state.list_where(JOB, "status", ["running"]):
        isolated(
            f"job {stored.key}",
            partial(_follow_job, tick, report, stored),
            partial(_park_job, tick, stored),
            report.errors,
            report.parked,
        )
    for stored in tick.state.list_where(ROLLOUT, "phase", _ACTIVE_PHASES):
        isolated(
            f"rollout {stored.key}",
            partial(_advance_rollout, tick, report, stored),
            partial(_park_rollout, tick, report, stored),
            report.errors,
            report.parked,
        )
    return report


def _ship_audit(tick: _Tick, report: ReconcileReport) -> None:
    """Records kept by a failed upload would otherwise wait for the next append, which a
    quiet app may not make for hours."""
    try:
        report.audit_shipped = tick.audit.flush()
    except TransientError as error:
        report.errors.append(f"audit outbox: {error}")


# Windows


def _close_window(tick: _Tick, report: ReconcileReport, stored: Stored) -> None:
    window = stored.value
    if window.get("status") != "open" or not _window_closed(window, tick.clock.now(), tick):
        return
    request = _job_request(window, tick)
    if not request.files:
        raise NothingToTrain(
            f"no accepted file of dataset {window['dataset']!r} is left to train on"
        )
    try:
        job = tick.platform.submit_job(request)
        closed = {**window, "status": "submitted", "job": job.name}
        tick.state.put(WINDOW, stored.key, closed, etag=stored.etag)
    except ConcurrencyConflict as error:  # a new blob extended the window meanwhile
        report.errors.append(f"window {window['window_id']}: {error}")
        return
    _track_job(tick, request, window)
    report.submitted.append(job.name)
    _audit(
        tick,
        "training.submitted",
        job.name,
        "accepted",
        f"{window['blobs']} blob(s) in dataset {window['dataset']}",
        window["first_event"],
        {"window_id": window["window_id"], "files": len(request.files)},
    )


def _park_window(tick: _Tick, stored: Stored, reason: str) -> None:
    """The window ends as failed; the dataset's next upload opens a new one."""
    window = stored.value
    tick.state.put(
        WINDOW, stored.key, {**window, "status": "failed", "error": reason}, etag=stored.etag
    )
    window_id = str(window.get("window_id", stored.key))
    correlation = str(window.get("first_event", ""))
    record_parked(
        tick.state,
        tick.clock,
        "window",
        window_id,
        reason,
        correlation,
        dataset=window.get("dataset"),
    )
    _audit(
        tick,
        "training.submitted",
        job_name(str(window.get("dataset", "")), window_id),
        "failed",
        reason,
        correlation,
        {"window_id": window_id, "parked": True},
    )


def window_due(window: Mapping[str, Any], settings: ServiceSettings) -> datetime:
    """When an open window closes: a quiet gap after its last blob, its maximum age, or the
    moment an operator asked to train (``close_by``, see retrain.py), whichever comes first."""
    quiet = datetime.fromisoformat(window["last_event"]) + timedelta(
        seconds=settings.coalesce_quiet_seconds
    )
    oldest = datetime.fromisoformat(window["opened"]) + timedelta(
        seconds=settings.coalesce_max_seconds
    )
    asked = [datetime.fromisoformat(window["close_by"])] if window.get("close_by") else []
    return min(quiet, oldest, *asked)


def _window_closed(window: Any, now: datetime, tick: _Tick) -> bool:
    return now >= window_due(window, tick.settings)


def job_name(dataset: str, window_id: str) -> str:
    """Derived from the window, so a retried submission names the same job. The dataset is
    any folder name a blob may have; the job name keeps [a-z0-9._-] of it and the whole
    window id (cutting the id could give two windows one name)."""
    room = _JOB_NAME_MAX - len("train--") - len(window_id)
    slug = _SLUG.sub("-", dataset.lower()).strip("._-")[:room].strip("._-") or "data"
    return f"train-{slug}-{window_id}"


def dataset_url(settings: ServiceSettings, dataset: str) -> str:
    """The dataset folder's URL: the name percent-encoded once, as the blobs' URLs are."""
    return (
        f"{settings.storage_account_url}/{settings.training_container}/{quote(dataset, safe='')}/"
    )


def _job_request(window: Any, tick: _Tick) -> TrainingJobRequest:
    members = tick.state.list(WINDOW_BLOB, prefix=f"{window['window_id']}/")
    return TrainingJobRequest(
        name=job_name(window["dataset"], window["window_id"]),
        dataset=window["dataset"],
        data_url=dataset_url(tick.settings, window["dataset"]),
        model_name=tick.settings.model_name,
        champion=_champion(tick),
        files=accepted_files(
            window["dataset"],
            state=tick.state,
            blobs=tick.blobs,
            clock=tick.clock,
            audit=tick.audit,
        ),
        tags={
            "window_id": window["window_id"],
            "event_id": window["first_event"],
            "blob_count": str(len(members)),
            "blob_url": str(members[0].value["url"]) if members else "",
            "blob_etag": str(members[0].value["etag"]) if members else "",
        },
    )


def _champion(tick: _Tick) -> ModelRef | None:
    """The model serving the endpoint now: the challenger must beat it on the same split."""
    try:
        endpoint = tick.platform.get_endpoint(tick.settings.endpoint_name)
        if endpoint.serving is None:
            return None
        return tick.platform.get_deployment(endpoint.name, endpoint.serving).model
    except NotFound:  # no endpoint, or its serving deployment is gone: no champion
        return None


def _track_job(tick: _Tick, request: TrainingJobRequest, window: Any) -> None:
    doc = {
        "dataset": request.dataset,
        "window_id": window["window_id"],
        "status": "running",
        "correlation_id": window["first_event"],
    }
    with suppress(ConcurrencyConflict):  # a previous tick tracked it already
        tick.state.put(JOB, request.name, doc, etag=None)


# Jobs


def _follow_job(tick: _Tick, report: ReconcileReport, stored: Stored) -> None:
    """The safety net for a lost run event: poll a job still running, record its end."""
    if stored.value.get("status") != "running":
        return
    job = tick.platform.get_job(stored.key)
    if record_job_end(
        stored, job, actor=ACTOR, state=tick.state, clock=tick.clock, audit=tick.audit
    ):
        report.finished[job.name] = job.status


def _park_job(tick: _Tick, stored: Stored, reason: str) -> None:
    """A job the workspace no longer knows (or that cannot be read) ends as failed."""
    doc = {**stored.value, "status": "failed", "error": reason}
    tick.state.put(JOB, stored.key, doc, etag=stored.etag)
    correlation = str(stored.value.get("correlation_id", ""))
    record_parked(
        tick.state,
        tick.clock,
        "job",
        stored.key,
        reason,
        correlation,
        dataset=stored.value.get("dataset"),
    )
    _audit(tick, "training.failed", stored.key, "failed", reason, correlation, {"parked": True})


# Rollouts


def _advance_rollout(tick: _Tick, report: ReconcileReport, stored: Stored) -> None:
    rollout = Rollout.from_dict(stored.value)
    for _ in range(_MAX_STEPS):
        if not rollout.active:
            break
        try:
            stepped = advance(rollout, tick)
        except TRANSIENT as error:
            report.errors.append(f"rollout {rollout.id}: {error}")
            break
        if stepped.phase == rollout.phase:
            break
        rollout = stepped
    if rollout.phase != Phase(stored.value["phase"]):
        report.rollouts[rollout.id] = rollout.phase.value


def _park_rollout(tick: _Tick, report: ReconcileReport, stored: Stored, reason: str) -> None:
    """Put traffic back where possible, end the rollout as failed and free its endpoint."""
    try:
        current = get_rollout(stored.key, state=tick.state)
    except (LookupError, ValueError):  # a malformed document: nothing to step, only record it
        current = None
    if current is not None and current.active:
        report.rollouts[current.id] = fail(current, tick, reason).phase.value
    correlation = current.correlation_id if current else str(stored.value.get("correlation_id", ""))
    endpoint = current.endpoint if current else stored.value.get("endpoint")
    record_parked(
        tick.state, tick.clock, "rollout", stored.key, reason, correlation, endpoint=endpoint
    )


def _audit(
    tick: _Tick,
    action: str,
    target: str,
    outcome: Outcome,
    reason: str,
    correlation_id: str,
    details: dict[str, Any],
) -> None:
    tick.audit.append(AuditEntry(ACTOR, action, target, outcome, reason, correlation_id, details))
