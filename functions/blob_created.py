"""New training data: Event Grid BlobCreated on the training-data container."""

from __future__ import annotations

import azure.functions as func

from functions._event_grid import handle_event
from shared.domain.events import DataArrived
from shared.services.data_arrived import handle_data_arrived

bp = func.Blueprint()


@bp.function_name("on_blob_created")
@bp.event_grid_trigger(arg_name="event")
def on_blob_created(event: func.EventGridEvent) -> None:
    handle_event(event, DataArrived, handle_data_arrived)
