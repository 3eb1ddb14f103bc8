"""The timer's work: close quiet windows into training jobs, follow jobs, advance rollouts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.models import ModelRef, TrainingJobRequest
from shared.domain.rollout import Phase, Rollout
from shared.ports import ConcurrencyConflict, NotFound, TransientError
from shared.services.data import DATASET_FILE, WINDOW, WINDOW_BLOB
from shared.services.deps import Deps
from shared.services.rollouts import ROLLOUT, advance

if TYPE_CHECKING:
    from shared.settings import Settings

log = logging.getLogger(__name__)

JOB = "job"
ACTOR = "reconciler"
_MAX_STEPS = 10  # per rollout per tick: enough to chain instant steps, bounded by design


@dataclass
class ReconcileReport:
    submitted: list[str] = field(default_factory=list)
    finished: dict[str, str] = field(default_factory=dict)  # job name -> status
    rollouts: dict[str, str] = field(default_factory=dict)  # rollout id -> phase
    errors: list[str] = field(default_factory=list)
    audit_shipped: int = 0


def reconcile(deps: Deps) -> ReconcileReport:
    """One idempotent pass. A transient failure in one item leaves it for the next tick."""
    report = ReconcileReport()
    _ship_audit(deps, report)
    _close_windows(deps, report)
    _follow_jobs(deps, report)
    _advance_rollouts(deps, report)
    return report


def _ship_audit(deps: Deps, report: ReconcileReport) -> None:
    """Records kept by a failed upload would otherwise wait for the next append, which a
    quiet app may not make for hours."""
    try:
        report.audit_shipped = deps.audit.flush()
    except TransientError as error:
        report.errors.append(f"audit outbox: {error}")


def _close_windows(deps: Deps, report: ReconcileReport) -> None:
    now = deps.clock.now()
    for stored in deps.state.list(WINDOW):
        window = stored.value
        if window.get("status") != "open" or not _window_closed(window, now, deps):
            continue
        request = _job_request(window, deps)
        try:
            job = deps.platform.submit_job(request)
            closed = {**window, "status": "submitted", "job": job.name}
            deps.state.put(WINDOW, stored.key, closed, etag=stored.etag)
        except (TransientError, ConcurrencyConflict) as error:
            report.errors.append(f"window {window['window_id']}: {error}")
            continue
        _track_job(deps, request, window)
        report.submitted.append(job.name)
        _audit(
            deps,
            "training.submitted",
            job.name,
            "accepted",
            f"{window['blobs']} blob(s) in dataset {window['dataset']}",
            window["first_event"],
            {"window_id": window["window_id"]},
        )


def window_due(window: Mapping[str, Any], settings: Settings) -> datetime:
    """When an open window closes: a quiet gap after its last blob, or its maximum age,
    whichever comes first."""
    quiet = datetime.fromisoformat(window["last_event"]) + timedelta(
        seconds=settings.coalesce_quiet_seconds
    )
    oldest = datetime.fromisoformat(window["opened"]) + timedelta(
        seconds=settings.coalesce_max_seconds
    )
    return min(quiet, oldest)


def _window_closed(window: Any, now: datetime, deps: Deps) -> bool:
    return now >= window_due(window, deps.settings)


def _job_request(window: Any, deps: Deps) -> TrainingJobRequest:
    settings = deps.settings
    members = deps.state.list(WINDOW_BLOB, prefix=f"{window['window_id']}/")
    return TrainingJobRequest(
        # Derived from the window, so a retried submission names the same job.
        name=f"train-{window['dataset']}-{window['window_id']}"[:64].lower(),
        dataset=window["dataset"],
        data_url=f"{settings.storage_account_url}/{settings.training_container}/"
        f"{window['dataset']}/",
        model_name=settings.model_name,
        champion=_champion(deps),
        files=_accepted_files(deps, window["dataset"]),
        tags={
            "window_id": window["window_id"],
            "event_id": window["first_event"],
            "blob_count": str(len(members)),
            "blob_url": str(members[0].value["url"]) if members else "",
            "blob_etag": str(members[0].value["etag"]) if members else "",
        },
    )


def _accepted_files(deps: Deps, dataset: str) -> tuple[str, ...]:
    """Every accepted file of the dataset whose content is still the version accepted."""
    files = []
    for stored in deps.state.list(DATASET_FILE, prefix=f"{dataset}/"):
        try:
            current = deps.blobs.properties(str(stored.value["url"]))
        except NotFound:
            continue  # deleted since: nothing to train on
        if current.etag == stored.value["etag"]:
            files.append(current.url)
        else:
            log.warning("%s changed since it was accepted; left out", current.url)
    return tuple(sorted(files))


def _champion(deps: Deps) -> ModelRef | None:
    """The model serving the endpoint now: the challenger must beat it on the same split."""
    try:
        endpoint = deps.platform.get_endpoint(deps.settings.endpoint_name)
    except NotFound:
        return None
    if endpoint.serving is None:
        return None
    return deps.platform.get_deployment(endpoint.name, endpoint.serving).model


def _track_job(deps: Deps, request: TrainingJobRequest, window: Any) -> None:
    doc = {
        "dataset": request.dataset,
        "window_id": window["window_id"],
        "status": "running",
        "correlation_id": window["first_event"],
    }
    with suppress(ConcurrencyConflict):  # a previous tick tracked it already
        deps.state.put(JOB, request.name, doc, etag=None)


def _follow_jobs(deps: Deps, report: ReconcileReport) -> None:
    for stored in deps.state.list(JOB):
        if stored.value.get("status") != "running":
            continue
        try:
            job = deps.platform.get_job(stored.key)
        except TransientError as error:
            report.errors.append(f"job {stored.key}: {error}")
            continue
        if job.status in ("queued", "running"):
            continue
        try:
            deps.state.put(
                JOB, stored.key, {**stored.value, "status": job.status}, etag=stored.etag
            )
        except ConcurrencyConflict:
            continue  # another reconciler instance got there first
        report.finished[job.name] = job.status
        if job.status == "completed":
            _audit(
                deps,
                "training.completed",
                job.name,
                "succeeded",
                f"registered {job.model}" if job.model else "no model registered",
                str(stored.value.get("correlation_id", "")),
                {},
            )
        else:
            # The serving model is untouched: nothing was registered, so no rollout starts.
            _audit(
                deps,
                "training.failed",
                job.name,
                "failed",
                job.error[:500] or job.status,
                str(stored.value.get("correlation_id", "")),
                {},
            )


def _advance_rollouts(deps: Deps, report: ReconcileReport) -> None:
    for stored in deps.state.list(ROLLOUT):
        rollout = Rollout.from_dict(stored.value)
        for _ in range(_MAX_STEPS):
            if not rollout.active:
                break
            try:
                stepped = advance(rollout, deps)
            except (TransientError, ConcurrencyConflict) as error:
                report.errors.append(f"rollout {rollout.id}: {error}")
                break
            if stepped.phase == rollout.phase:
                break
            rollout = stepped
        if rollout.phase != Phase(stored.value["phase"]):
            report.rollouts[rollout.id] = rollout.phase.value


def _audit(
    deps: Deps,
    action: str,
    target: str,
    outcome: Outcome,
    reason: str,
    correlation_id: str,
    details: dict[str, Any],
) -> None:
    deps.audit.append(AuditEntry(ACTOR, action, target, outcome, reason, correlation_id, details))
