"""A serving image was pushed to the registry: roll it forward by digest."""

from __future__ import annotations

import azure.functions as func

from functions._event_grid import handle_event
from shared import bootstrap
from shared.domain.events import ImagePushed
from shared.services.idempotency import Handled
from shared.services.image_pushed import handle_image_pushed

bp = func.Blueprint()


@bp.function_name("on_image_pushed")
@bp.event_grid_trigger(arg_name="event")
def on_image_pushed(event: func.EventGridEvent) -> None:
    handle_event(event, ImagePushed, _handle_image_pushed)


def _handle_image_pushed(parsed: ImagePushed) -> Handled:
    # until the service asks for its ports by name (shared/services/injection.py)
    return handle_image_pushed(parsed, bootstrap.deps())
