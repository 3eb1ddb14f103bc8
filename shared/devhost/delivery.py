"""In-process delivery of one Event Grid event to one of the app's functions, as the Python
worker hands it over. Kept apart from the local Event Grid's store, which takes delivery as
an argument: only this module reaches ``function_app`` (through the functions registry)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum

from shared.devhost.functions_registry import call, user_function


def to_trigger_event(raw: Mapping[str, Any]) -> func.EventGridEvent | func.CloudEvent:
    """What the Python worker hands an Event Grid trigger: the event's JSON through the
    library's own trigger converter, so a CloudEvent arrives as ``func.CloudEvent`` with its
    specversion and extension attributes (``data_base64`` among them), as in Azure. Like the
    worker, it raises on a time it cannot read (the invocation fails and is retried)."""
    decoded = EventGridEventInConverter.decode(Datum(json.dumps(raw), "json"), trigger_metadata={})
    if not isinstance(decoded, func.EventGridEvent | func.CloudEvent):
        raise TypeError("the trigger converter returned neither event type")
    return decoded


def invoke(
    function: str, raw: Mapping[str, Any], functions: Mapping[str, Any] | None = None
) -> None:
    """Call one Event Grid function with one event, as the host would. Raises what it raises
    (KeyError first if ``function`` is not an Event Grid function of the app)."""
    call(user_function(function, "eventGridTrigger", functions), to_trigger_event(raw))
