"""A training run ended (Azure ML's ``RunCompleted`` or ``RunStatusChanged``): record the job's
end at once instead of at the reconciler's next poll, and, when it registered a version, take
that version through the same gate and rollout as its ``ModelRegistered`` event.

The event only says *which* run to look at: how it ended, its error and the version it
registered are read from the platform, so a forged or stale event can make the app look
sooner, never decide differently. Duplicate and out-of-order events are harmless: the job is
recorded once (compare-and-set, jobs.py) and the version is rolled out once, under the
business key its ``ModelRegistered`` event uses (``model:<name>:<version>``), whichever of
the two events comes first. The reconciler still polls running jobs, for lost events.
"""

from __future__ import annotations

from contextlib import suppress

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import EventMeta, ModelRegistered
from shared.domain.job_events import TrainingRunEvent
from shared.domain.values import JobInfo
from shared.ports import (
    AuditSink,
    Clock,
    LiveTraffic,
    MLPlatform,
    NotFound,
    StateStore,
    TransientError,
)
from shared.services.config import ServiceSettings
from shared.services.idempotency import DUPLICATE, Handled, already_handled, remember
from shared.services.jobs import JOB, record_job_end
from shared.services.model_registered import handle_model_registered


def handle_job_finished(
    event: TrainingRunEvent,
    *,
    platform: MLPlatform,
    state: StateStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
    smoke_set: tuple[tuple[str, str], ...],
    traffic: LiveTraffic | None,
) -> Handled:
    keys = (f"event:{event.meta.id}", event.business_key)
    if already_handled(state, keys) is not None:
        _audit(audit, event, "duplicate", "already handled")
        return DUPLICATE
    try:
        job = _ended_job(event, platform, state, settings)
    except Rejected as rejected:
        _audit(audit, event, "rejected", rejected.reason)
        remember(state, keys, outcome="rejected", at=clock.now().isoformat())
        raise
    stored = state.get(JOB, job.name)
    recorded = stored is not None and record_job_end(
        stored, job, actor=event.meta.source, state=state, clock=clock, audit=audit
    )
    started = ""
    registered = _registered(event, job)
    # Through ModelRegistered's own handler: its gate, its audit, its idempotency key;
    # nothing when that event was handled already.
    if registered is not None and already_handled(state, [registered.business_key]) is None:
        # A version the gate refuses is audited by the model handler; nothing starts.
        with suppress(Rejected):
            started = handle_model_registered(
                registered,
                platform=platform,
                state=state,
                audit=audit,
                clock=clock,
                settings=settings,
                smoke_set=smoke_set,
                traffic=traffic,
            ).started
    remember(state, keys, outcome="accepted", at=clock.now().isoformat())
    if not recorded and not started:  # the poll, or the other event, got there first
        _audit(audit, event, "duplicate", f"job {job.name} {job.status}: recorded already")
    return Handled("accepted", started=started, reason=f"job {job.name} {job.status}")


def _ended_job(
    event: TrainingRunEvent, platform: MLPlatform, state: StateStore, settings: ServiceSettings
) -> JobInfo:
    """The platform's view of the run the event names, once it has ended."""
    if event.experiment_name != settings.model_name:
        raise Rejected(
            f"run {event.run_id[:64]!r} is in experiment {event.experiment_name[:64]!r}, "
            f"not this app's {settings.model_name!r}"
        )
    if not event.terminal:
        raise Rejected(f"run status {event.status[:32]!r} is not an ending")
    if state.get(JOB, event.run_id) is None:
        raise Rejected(f"job {event.run_id[:64]!r} was not submitted by this app")
    try:
        job = platform.get_job(event.run_id)
    except NotFound:
        raise Rejected(f"job {event.run_id[:64]!r} does not exist in the workspace") from None
    if job.status in ("queued", "running"):
        # The event can come before the job's own record says so: look again on redelivery
        # (and the reconciler polls meanwhile).
        raise TransientError(f"run {job.name} ended ({event.status}) but its job is {job.status}")
    return job


def _registered(event: TrainingRunEvent, job: JobInfo) -> ModelRegistered | None:
    """The ModelRegistered a completed job's version would have had; None for other ends."""
    if job.status != "completed" or job.model is None:
        return None
    model = job.model
    return ModelRegistered(
        meta=EventMeta(
            id=event.meta.id,
            type=event.meta.type,
            source=event.meta.source,
            subject=f"models/{model.name}:{model.version}",
            time=event.meta.time,
        ),
        model_name=model.name,
        model_version=model.version,
    )


def _audit(audit: AuditSink, event: TrainingRunEvent, outcome: Outcome, reason: str) -> None:
    audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="training.run_event",
            target=event.run_id,
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details={
                "event_type": event.meta.type,
                "run_status": event.status,
                "experiment": event.experiment_name,
            },
        )
    )
