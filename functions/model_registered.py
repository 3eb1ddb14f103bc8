"""A model version was registered in the workspace: gate it and roll it out."""

from __future__ import annotations

import azure.functions as func

from functions._event_grid import handle_event
from shared import bootstrap
from shared.domain.events import ModelRegistered
from shared.services.idempotency import Handled
from shared.services.model_registered import handle_model_registered

bp = func.Blueprint()


@bp.function_name("on_model_registered")
@bp.event_grid_trigger(arg_name="event")
def on_model_registered(event: func.EventGridEvent) -> None:
    handle_event(event, ModelRegistered, _handle_model_registered)


def _handle_model_registered(parsed: ModelRegistered) -> Handled:
    # until the service asks for its ports by name (shared/services/injection.py)
    return handle_model_registered(parsed, bootstrap.deps())
