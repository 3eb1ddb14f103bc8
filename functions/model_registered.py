"""A model version was registered in the workspace: gate it and roll it out."""

from __future__ import annotations

import azure.functions as func

from functions._event_grid import handle_event
from shared.domain.events import ModelRegistered
from shared.services.model_registered import handle_model_registered

bp = func.Blueprint()


@bp.function_name("on_model_registered")
@bp.event_grid_trigger(arg_name="event")
def on_model_registered(event: func.EventGridEvent) -> None:
    handle_event(event, ModelRegistered, handle_model_registered)
