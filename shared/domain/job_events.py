"""Azure ML run events: ``RunCompleted`` and ``RunStatusChanged``, parsed into one typed
``TrainingRunEvent`` that says whether the run has ended and how.

The data fields follow Learn, "Azure Machine Learning as an Event Grid source"
(event-schema-machine-learning): ``experimentId``, ``experimentName``, ``runId``, ``runType``,
``runTags``, ``runProperties`` and, for ``RunStatusChanged`` only, ``runStatus``. The sample
there spells the status in lower case (``"failed"``), Azure ML's job states are PascalCase
(``Failed``): names and statuses are read case-insensitively. The documented data carries no
error message; the handler reads the run's error from the job itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.domain.errors import Rejected
from shared.domain.event_fields import (
    MAX_ID,
    EventMeta,
    casefolded,
    clip,
    invisible,
    json_object,
    string_map,
    text_field,
)

RUN_COMPLETED = "Microsoft.MachineLearningServices.RunCompleted"
RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"
RUN_EVENT_TYPES = (RUN_COMPLETED, RUN_STATUS_CHANGED)

RunOutcome = Literal["completed", "failed", "canceled"]

# Azure ML's run states (RunStatus / JobStatus in the REST API), by their lower-case spelling.
_STATUSES = {
    status.lower(): status
    for status in (
        *("NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running"),
        *("Finalizing", "CancelRequested", "Completed", "Failed", "Canceled", "NotResponding"),
    )
}
_ENDED: Mapping[str, RunOutcome] = {
    "Completed": "completed",
    "Failed": "failed",
    "Canceled": "canceled",
}


@dataclass(frozen=True)
class TrainingRunEvent:
    meta: EventMeta
    run_id: str  # for a v2 command job, the job's name
    experiment_id: str
    experiment_name: str
    run_type: str
    status: str  # Azure ML's spelling ("Failed"), or the text as sent when not a known state
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def outcome(self) -> RunOutcome | None:
        """How the run ended, or None while it has not (Running, Queued, an unknown state)."""
        return _ENDED.get(self.status)

    @property
    def terminal(self) -> bool:
        return self.outcome is not None

    @property
    def business_key(self) -> str:
        """One per run and way of ending: a RunCompleted and a redelivered copy are one."""
        return f"run:{self.run_id}:{self.outcome or self.status.lower()}"


def parse_run_event(meta: EventMeta, data: Any) -> TrainingRunEvent:
    body = casefolded(json_object(data, "data"))
    if meta.type == RUN_COMPLETED:
        # RunCompleted is "raised when a Run has been successfully completed" and has no
        # runStatus; one that claims another status contradicts its own type.
        sent = _name(body, "runstatus", required=False)
        if sent and sent.lower() != "completed":
            raise Rejected(f"RunCompleted with runStatus {clip(sent)}", field="data.runStatus")
        status = "Completed"
    else:
        sent = _name(body, "runstatus", required=True)
        status = _STATUSES.get(sent.lower(), sent)
    return TrainingRunEvent(
        meta=meta,
        run_id=_name(body, "runid", required=True),
        experiment_id=_name(body, "experimentid", required=False),
        experiment_name=_name(body, "experimentname", required=True),
        run_type=_name(body, "runtype", required=False),  # null in the documented sample
        status=status,
        tags=string_map(body.get("runtags"), "data.runTags"),
        properties=string_map(body.get("runproperties"), "data.runProperties"),
    )


def _name(body: Mapping[str, Any], key: str, *, required: bool) -> str:
    """An identifier-like field: bounded, and without characters that could hide or fake
    text where it is shown (an audit target, a log line)."""
    value = text_field(body, key, where="data.", required=required, limit=MAX_ID)
    if any(invisible(char) for char in value):
        raise Rejected(f"data.{key} has control or format characters", field=f"data.{key}")
    return value
