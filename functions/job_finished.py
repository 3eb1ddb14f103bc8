"""A training run ended in the workspace (RunCompleted, or RunStatusChanged to Failed or
Canceled): record its job's end and roll out what it registered, without waiting for the
reconciler's poll."""

from __future__ import annotations

import azure.functions as func

from functions._event_grid import handle_event
from shared.domain.job_events import TrainingRunEvent
from shared.services.job_finished import handle_job_finished

bp = func.Blueprint()


@bp.function_name("on_job_finished")
@bp.event_grid_trigger(arg_name="event")
def on_job_finished(event: func.EventGridEvent) -> None:
    handle_event(event, TrainingRunEvent, handle_job_finished)
