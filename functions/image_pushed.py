"""A serving image was pushed to the registry: roll it forward by digest."""

from __future__ import annotations

import azure.functions as func

from functions._event_grid import handle_event
from shared.domain.events import ImagePushed
from shared.services.image_pushed import handle_image_pushed

bp = func.Blueprint()


@bp.function_name("on_image_pushed")
@bp.event_grid_trigger(arg_name="event")
def on_image_pushed(event: func.EventGridEvent) -> None:
    handle_event(event, ImagePushed, handle_image_pushed)
