"""A model version was registered: check the evidence for it and start a rollout.

The deploy decision rests on what a registry writer cannot forge alone (DESIGN §8, §11):

1. the version's files are the ``model`` artifact of a training run: the platform derives
   this lineage from where the files live, never from a tag;
2. that run's job is one this app submitted (the reconciler recorded its name in the state
   store when it submitted it) and the job completed;
3. the job's own run (as the job's record names it) is that run, registered exactly this
   version, and says ``gate=passed``;
4. the metrics read from that run meet the absolute floors in settings, on the held-out split
   and on the golden set.

Version tags are never evidence: they are only compared with the run, and a version whose
tags claim other metrics than its run recorded has been edited, so it is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import ModelRegistered
from shared.domain.validation import check_model_name, check_version
from shared.domain.values import ModelVersion, TrainingRun
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
from shared.services.reconciler import JOB
from shared.services.rollout_requests import RolloutPorts, RolloutRequest
from shared.services.rollouts import advance_or_defer, start_rollout

# Tags carry metrics rounded to 4 decimals (train.py's format_metric).
_TAG_TOLERANCE = 5.1e-5
_COMPARED_TAGS = (
    *("accuracy", "precision", "recall", "f1", "roc_auc"),
    *("golden_accuracy", "golden_f1"),
)
_MAX_REASON = 200


@dataclass(frozen=True)
class Evidence:
    """Why a version may be deployed: its job, its run and the run's metrics."""

    job_name: str
    run_id: str
    reason: str  # the run's own gate reason
    metrics: Mapping[str, float] = field(default_factory=dict)

    def details(self) -> dict[str, object]:
        return {"job_name": self.job_name, "run_id": self.run_id, "metrics": dict(self.metrics)}


def handle_model_registered(
    event: ModelRegistered,
    *,
    platform: MLPlatform,
    state: StateStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
    smoke_set: tuple[tuple[str, str], ...],
    traffic: LiveTraffic | None,
) -> Handled:
    """Check the evidence and start (and take the first step of) the version's rollout."""
    ports = RolloutPorts(
        platform=platform,
        state=state,
        audit=audit,
        clock=clock,
        settings=settings,
        smoke_set=smoke_set,
        traffic=traffic,
    )
    keys = (f"event:{event.meta.id}", event.business_key)
    target = f"{event.model_name}@{event.model_version}"
    if already_handled(state, keys) is not None:
        _audit(audit, event, target, "duplicate", "already handled")
        return DUPLICATE
    try:
        model, evidence = _gated_model(event, platform, state, settings)
    except Rejected as rejected:
        _audit(audit, event, target, "rejected", rejected.reason)
        remember(state, keys, outcome="rejected", at=clock.now().isoformat())
        raise
    rollout = start_rollout(
        RolloutRequest(
            endpoint=settings.endpoint_name,
            model=model.ref,
            image=None,
            kind="model",
            actor=event.meta.source,
            reason=evidence.reason or "gate passed",
            correlation_id=event.meta.id,
            idempotency_key=event.business_key,
        ),
        ports,
        supersede=True,  # a newer registered model replaces an in-flight rollout, explicitly
    )
    remember(state, keys, outcome="accepted", at=clock.now().isoformat())
    reason = f"gate passed (job {evidence.job_name}); rollout {rollout.id}"
    _audit(audit, event, target, "accepted", reason, evidence)
    advance_or_defer(rollout, ports)
    return Handled("accepted", started=rollout.id)


def _gated_model(
    event: ModelRegistered, platform: MLPlatform, state: StateStore, settings: ServiceSettings
) -> tuple[ModelVersion, Evidence]:
    check_model_name(event.model_name)
    check_version(event.model_version)
    if event.model_name != settings.model_name:
        raise Rejected(f"model {event.model_name!r} is not the model this app serves")
    # The event's tags are a hint at most; the registry says where the files are.
    try:
        model = platform.get_model(event.model_name, event.model_version)
    except NotFound:
        raise TransientError(
            f"model {event.model_name}:{event.model_version} not found yet"
        ) from None
    return model, check_gate(model, platform=platform, state=state, settings=settings)


def check_gate(
    model: ModelVersion, *, platform: MLPlatform, state: StateStore, settings: ServiceSettings
) -> Evidence:
    """The evidence that ``model`` may be deployed, or Rejected with the reason. Raises
    TransientError while its job is still running (the registry event can come first)."""
    job = _producing_job(model, platform, state)
    run = _job_run(job, model, platform)
    return _passed(run, model, settings)


def _producing_job(model: ModelVersion, platform: MLPlatform, state: StateStore) -> str:
    job = model.job_name
    if not model.run_id or not job:
        raise Rejected(
            "not produced by a training job: the version's files are not a training run's "
            "model (registered by hand?)"
        )
    if state.get(JOB, job) is None:
        raise Rejected(f"job {job[:_MAX_REASON]!r} was not submitted by this app")
    try:
        info = platform.get_job(job)
    except NotFound:
        raise Rejected(f"job {job} does not exist in the workspace") from None
    if info.status in ("queued", "running"):
        raise TransientError(f"job {job} is still {info.status}; the gate waits for it to end")
    if info.status != "completed":
        why = f": {info.error[:_MAX_REASON]}" if info.error else ""
        raise Rejected(f"job {job} {info.status}{why}")
    return job


def _job_run(job: str, model: ModelVersion, platform: MLPlatform) -> TrainingRun:
    try:
        run = platform.get_training_run(job)
    except NotFound:
        raise Rejected(f"job {job} has no training run to read its gate from") from None
    if run.run_id != model.run_id:
        raise Rejected(
            f"the version's files are not job {job}'s model: they come from run "
            f"{model.run_id[:64]!r}, the job's run is {run.run_id[:64]!r}"
        )
    registered = run.tags.get("registered_version")
    if registered != model.version:
        raise Rejected(f"job {job} registered version {str(registered)[:20]}, not {model.version}")
    return run


def _passed(run: TrainingRun, model: ModelVersion, settings: ServiceSettings) -> Evidence:
    """The run's gate and metrics; the absolute floors; tags that disagree with the run."""
    gate, reason = run.tags.get("gate"), run.tags.get("gate_reason", "no reason")
    if gate is None:
        raise Rejected(f"job {run.job_name}'s run records no gate decision")
    if gate != "passed":
        raise Rejected(f"gate={gate[:20]}: {reason[:_MAX_REASON]}")
    floors = {
        "accuracy": settings.min_accuracy,
        "f1": settings.min_f1,
        "golden_accuracy": settings.min_golden_accuracy,
        "golden_f1": settings.min_golden_f1,
    }
    for metric, floor in floors.items():
        value = run.metrics.get(metric)
        if value is None:
            raise Rejected(f"job {run.job_name}'s run has no {metric} metric")
        if not value >= floor:  # also catches NaN
            raise Rejected(f"{metric} {value:.4f} is below the floor {floor:.4f}")
    _tags_agree(run, model)
    kept = {name: run.metrics[name] for name in _COMPARED_TAGS if name in run.metrics}
    return Evidence(run.job_name, run.run_id, reason, kept)


def _tags_agree(run: TrainingRun, model: ModelVersion) -> None:
    """A tag is a copy of the run's value made when the job registered the version; one that
    differs was edited afterwards."""
    claimed_gate = model.tags.get("gate")
    if claimed_gate is not None and claimed_gate != run.tags.get("gate"):
        raise Rejected(f"tag gate={claimed_gate[:20]} disagrees with the job's run")
    for name in _COMPARED_TAGS:
        if name not in model.tags or name not in run.metrics:
            continue
        try:
            claimed = float(model.tags[name])
        except ValueError:
            raise Rejected(f"tag {name} is not a number") from None
        recorded = run.metrics[name]
        if math.isnan(claimed) and math.isnan(recorded):
            continue
        if not abs(claimed - recorded) <= _TAG_TOLERANCE:
            raise Rejected(
                f"tag {name}={claimed:.4f} disagrees with the job's run ({recorded:.4f})"
            )


def _audit(
    audit: AuditSink,
    event: ModelRegistered,
    target: str,
    outcome: Outcome,
    reason: str,
    evidence: Evidence | None = None,
) -> None:
    details: dict[str, object] = {"tags": dict(event.tags)}
    if evidence is not None:
        details["evidence"] = evidence.details()
    audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="model.registered",
            target=target,
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details=details,
        )
    )
