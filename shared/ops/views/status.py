"""`mlops status`: what is serving, what is in flight, what needs attention, as one
JSON-ready report. ``build_status`` reads the ports (tests hand it fakes); ``status_report``
reads a local home. ``mlops status --json`` prints it; keys are stable (new ones may be added),
lists run oldest first (the last 5 rollouts, the last 10 jobs)::

    {"source": "local",
     "endpoint": {"name", "serving": deployment | null, "traffic": {deployment: percent},
                  "deployments": [{"name", "model": "name:version", "image": str | null,
                                   "state": "creating|succeeded|failed|deleting",
                                   "traffic": int, "error": str}]},
     "models": [{"version", "gate": str | null, "gate_reason": str | null,
                 "accuracy", "precision", "recall", "f1", "roc_auc": float | null,
                 "registered": ISO time | null (when the app recorded it),
                 "decision": "accepted|rejected" | null, "decision_reason": str | null
                 (the app's own check when it was announced, from the audit trail),
                 "deployments": [deployment serving this version]}],
     "active_rollouts": [{...the rollout's state document (id, endpoint, model, image,
                          kind, actor, reason, colour, phase, phase_since, history, ...),
                          "operation_id", "requested_by": {"actor", "name": str | null}}],
     "recent_rollouts": [{"id", "model", "kind", "phase", "since", "deployment", "actor",
                          "live": str (the live numbers its canary decision used, or "")}],
     "open_windows": [{"dataset", "window_id", "blobs", "opened", "last_event",
                       "first_event", "status": "open", "due": ISO time}],
     "jobs": [{"name", "status", "dataset", "window_id", "submitted": ISO time | null}],
     "running_jobs": [job name],
     "parked": [{"kind": "window|job|rollout", "id", "reason", "at", "correlation_id", ...}]
               (items the reconciler stopped on a permanent error),
     "quarantined_files": [{"dataset", "path", "url", "etag", "reason", "at", "job"}]
                          (file versions left out of training),
     "pending_events": int, "dead_letters": [path],
     "audit": {"records": int, "chain_valid": bool, "first_bad_seq": int | null,
               "problem": str}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from shared.adapters.local.backend import LocalBackend
from shared.domain.audit import AuditRecord, ChainReport
from shared.domain.rollout import Phase, Rollout
from shared.domain.text import neutralise
from shared.domain.values import EndpointInfo, ModelVersion
from shared.ops.views import live_check
from shared.ops.views.metrics import METRICS
from shared.ports import NotFound
from shared.services.data_arrived import WINDOW
from shared.services.deps import Deps
from shared.services.isolation import PARKED
from shared.services.quarantine import quarantined_files
from shared.services.reconciler import JOB, window_due
from shared.services.rollouts import ROLLOUT
from shared.services.views import operation_view

RECENT_ROLLOUTS = 5
RECENT_JOBS = 10


class AuditTrail(Protocol):
    def records(self, *, action_prefix: str = "") -> Sequence[AuditRecord]: ...

    def verify(self) -> ChainReport: ...


class EventQueue(Protocol):
    def pending(self) -> int: ...

    def dead_letters(self) -> Sequence[Path]: ...


def status_report(backend: LocalBackend, chain: ChainReport | None = None) -> dict[str, Any]:
    """``chain``: a verification the caller already made (it reads the whole trail)."""
    return build_status(backend.deps, backend.events, backend.audit, chain)


def build_status(
    deps: Deps, events: EventQueue, audit: AuditTrail, chain: ChainReport | None = None
) -> dict[str, Any]:
    endpoint = _endpoint(deps)
    rollouts = sorted(
        (Rollout.from_dict(s.value) for s in deps.state.list(ROLLOUT)), key=lambda r: r.phase_since
    )
    jobs = _jobs(deps, audit)
    live = live_check.by_rollout(audit.records(action_prefix="rollout."))
    chain = chain or audit.verify()
    return {
        "source": "local",
        "endpoint": _endpoint_doc(deps.settings.endpoint_name, endpoint),
        "models": _models(deps, endpoint, audit),
        "active_rollouts": [_active(deps, r) for r in rollouts if r.active],
        "recent_rollouts": [_recent(r, live) for r in rollouts[-RECENT_ROLLOUTS:]],
        "open_windows": _open_windows(deps),
        "jobs": jobs[-RECENT_JOBS:],
        "running_jobs": [j["name"] for j in jobs if j["status"] == "running"],
        "parked": [dict(stored.value) for stored in deps.state.list(PARKED)],
        "quarantined_files": quarantined_files(state=deps.state),
        "pending_events": events.pending(),
        "dead_letters": [str(p) for p in events.dead_letters()],
        "audit": {
            "records": chain.records,
            "chain_valid": chain.valid,
            "first_bad_seq": chain.first_bad_seq,
            "problem": chain.problem,
        },
    }


def in_flight(deps: Deps, pending_events: int) -> list[str]:
    """What the pipeline is still doing, one phrase each; empty when it is idle."""
    state = deps.state
    busy = [f"{pending_events} event(s) to deliver"] if pending_events else []
    busy += [
        f"window {w.value['dataset']}: {w.value['blobs']} blob(s), waiting for a quiet moment"
        for w in state.list(WINDOW)
        if w.value.get("status") == "open"
    ]
    busy += [f"training {j.key}" for j in state.list(JOB) if j.value.get("status") == "running"]
    for stored in state.list(ROLLOUT):
        rollout = Rollout.from_dict(stored.value)
        if rollout.active:
            busy.append(f"rollout {rollout.model} {_doing(rollout)}")
    return [neutralise(phrase) for phrase in busy]  # shown on a terminal by the demo


def _doing(rollout: Rollout) -> str:
    if rollout.phase is Phase.DEPLOYING:
        return f"deploying to {rollout.colour}, waiting until it is healthy"
    if rollout.phase is Phase.CANARY:
        return f"in canary on {rollout.colour}"
    return f"{rollout.phase.value.replace('_', ' ')} on {rollout.colour or rollout.endpoint}"


def _endpoint(deps: Deps) -> EndpointInfo | None:
    try:
        return deps.platform.get_endpoint(deps.settings.endpoint_name)
    except NotFound:
        return None


def _endpoint_doc(name: str, endpoint: EndpointInfo | None) -> dict[str, Any]:
    if endpoint is None:
        return {"name": name, "serving": None, "traffic": {}, "deployments": []}
    return {
        "name": endpoint.name,
        "serving": endpoint.serving,
        "traffic": dict(endpoint.traffic),
        "deployments": [
            {
                "name": d.name,
                "model": str(d.model),
                "image": d.image,
                "state": d.state,
                "traffic": int(endpoint.traffic.get(d.name, 0)),
                "error": d.error,
            }
            for d in endpoint.deployments
        ],
    }


def _models(deps: Deps, endpoint: EndpointInfo | None, audit: AuditTrail) -> list[dict[str, Any]]:
    """Every version with its gate and metrics (the training job's tags), what the app
    decided when it was announced (the audit trail: the platform port carries no time)
    and the deployments serving it."""
    name = deps.settings.model_name
    announced = _first_records(audit, "model.registered")
    on = {} if endpoint is None else {d.name: str(d.model) for d in endpoint.deployments}
    models = []
    for m in _list_models(deps, name):
        record = announced.get(f"{name}@{m.version}")
        models.append(
            {
                "version": m.version,
                "gate": m.tags.get("gate"),
                "gate_reason": m.tags.get("gate_reason"),
                **{metric: _number(m.tags.get(metric)) for metric in METRICS},
                "registered": record.time if record else None,
                "decision": record.outcome if record else None,
                "decision_reason": record.reason if record else None,
                "deployments": sorted(d for d, ref in on.items() if ref == str(m.ref)),
            }
        )
    return models


def _list_models(deps: Deps, name: str) -> Sequence[ModelVersion]:
    try:
        return deps.platform.list_models(name)
    except NotFound:  # no model of that name registered yet
        return []


def _active(deps: Deps, rollout: Rollout) -> dict[str, Any]:
    view = operation_view(rollout.id, state=deps.state, settings=deps.settings)
    return {**rollout.to_dict(), "operation_id": rollout.id, "requested_by": view["requested_by"]}


def _recent(rollout: Rollout, live: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "id": rollout.id,
        "model": str(rollout.model),
        "kind": rollout.kind,
        "phase": rollout.phase.value,
        "since": rollout.phase_since,
        "deployment": rollout.colour or None,
        "actor": rollout.actor,
        "live": live_check.summary(live.get(rollout.id)),
    }


def _open_windows(deps: Deps) -> list[dict[str, Any]]:
    """Pending coalesced training: each open window with when the timer may close it."""
    return [
        {**stored.value, "due": window_due(stored.value, deps.settings).isoformat("T", "seconds")}
        for stored in deps.state.list(WINDOW)
        if stored.value.get("status") == "open"
    ]


def _jobs(deps: Deps, audit: AuditTrail) -> list[dict[str, Any]]:
    """Every tracked training job, oldest first; the submission time is the audit record's."""
    submitted = {job: r.time for job, r in _first_records(audit, "training.submitted").items()}
    jobs = [
        {
            "name": stored.key,
            "status": stored.value.get("status"),
            "dataset": stored.value.get("dataset"),
            "window_id": stored.value.get("window_id"),
            "submitted": submitted.get(stored.key),
        }
        for stored in deps.state.list(JOB)
    ]
    return sorted(jobs, key=lambda job: (job["submitted"] or "", job["name"]))


def _first_records(audit: AuditTrail, action: str) -> Mapping[str, AuditRecord]:
    """The first record of ``action`` per target; a redelivery's "duplicate" says nothing new."""
    first: dict[str, AuditRecord] = {}
    for record in audit.records(action_prefix=action):
        if record.action == action and record.outcome != "duplicate":
            first.setdefault(record.target, record)
    return first


def _number(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
