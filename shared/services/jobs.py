"""A training job's end, recorded once: by the run's event (job_finished.py) or, when that
event is lost, by the reconciler's poll. Whichever comes first records it; the other finds
the job no longer running and does nothing."""

from __future__ import annotations

from typing import Any

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.values import JobInfo, Stored
from shared.ports import AuditSink, Clock, ConcurrencyConflict, StateStore
from shared.services.quarantine import quarantine_skipped

JOB = "job"  # state kind: the jobs this app submitted, by name


def record_job_end(
    stored: Stored,
    job: JobInfo,
    *,
    actor: str,
    state: StateStore,
    clock: Clock,
    audit: AuditSink,
) -> bool:
    """Move a tracked job to how it ended (``job`` is the platform's answer, never an event's
    claim), quarantine the files it skipped and audit it. False when the job has not ended,
    was recorded already, or another caller recorded it meanwhile (compare-and-set)."""
    if stored.value.get("status") != "running" or job.status in ("queued", "running"):
        return False
    ended = {**stored.value, "status": job.status}
    if job.error:  # why it failed, for the training request that asked for it (retrain.py)
        ended["error"] = job.error[:500]
    try:
        state.put(JOB, stored.key, ended, etag=stored.etag)
    except ConcurrencyConflict:
        return False  # the event and the poll raced, or two reconcilers: one wins
    correlation = str(stored.value.get("correlation_id", ""))
    if job.skipped_files:
        dataset = str(stored.value.get("dataset", ""))
        quarantine_skipped(dataset, job, correlation, state=state, clock=clock, audit=audit)
    details: dict[str, Any] = (
        {"skipped_files": sorted(job.skipped_files)} if job.skipped_files else {}
    )
    outcome: Outcome = "succeeded" if job.status == "completed" else "failed"
    if job.status == "completed":
        action = "training.completed"
        reason = f"registered {job.model}" if job.model else "no model registered"
    else:
        # The serving model is untouched: nothing was registered, so no rollout starts.
        action, reason = "training.failed", job.error[:500] or job.status
    audit.append(AuditEntry(actor, action, job.name, outcome, reason, correlation, details))
    return True
