"""``/runtime/webhooks/eventgrid``: Event Grid's way into the app's Event Grid functions.

As the Functions host's Event Grid extension: the ``eventgrid_extension`` system key (or the
master key) is required; the subscription validation handshake (Event Grid schema) and the
CloudEvents abuse-protection ``OPTIONS`` handshake are answered; each event of a batch is
handed to the function on its own; any failure answers 500 so Event Grid retries the batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from shared.localhost.eventgrid import invoke
from shared.localhost.functions_registry import user_function
from shared.localhost.host_keys import HostKeys, matches_any
from shared.localhost.messages import Head, Prepared, Reply, presented_keys

log = logging.getLogger("mlops.host.eventgrid")

PATH = "/runtime/webhooks/eventgrid"
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENT_BATCH = "application/cloudevents-batch+json"


class BadEvents(ValueError):
    """The body is not an event, a list of events or a CloudEvents batch."""


class EventGridWebhook:
    def __init__(self, functions: Mapping[str, Any], keys: HostKeys) -> None:
        self._functions = functions
        self._accepted = (keys.eventgrid, keys.master)

    def prepare(self, head: Head) -> Prepared:
        if head.method not in ("POST", "OPTIONS"):
            return Reply.error(405, "use POST", {"Allow": "POST, OPTIONS"})
        keys = presented_keys(head, "x-functions-key", "aeg-sas-key")
        if not matches_any(keys, self._accepted):
            return Reply.error(401, "a valid eventgrid_extension key is required")
        name = head.param("functionName") or ""
        try:
            user_function(name, "eventGridTrigger", self._functions)
        except KeyError:
            return Reply.error(404, "no Event Grid function of that name")
        if head.method == "OPTIONS":
            return _abuse_protection(head)
        return lambda body: self._deliver(name, head, body)

    def _deliver(self, name: str, head: Head, body: bytes) -> Reply:
        try:
            events = parse_events(body, head.header("content-type") or "")
        except BadEvents as error:
            return Reply.error(400, str(error))
        validation = next((e for e in events if e.get("eventType") == VALIDATION_EVENT), None)
        if validation is not None:
            return _validation_response(validation)
        if (head.header("aeg-event-type") or "").lower() == "subscriptionvalidation":
            return Reply.error(400, "a SubscriptionValidation request carries no validation event")
        failed = sum(not self._deliver_one(name, event) for event in events)
        if failed:
            return Reply.error(500, "the function failed; the delivery should be retried")
        return Reply(200)  # Event Grid takes any 2xx; the SDK's publisher client wants 200

    def _deliver_one(self, name: str, event: Mapping[str, Any]) -> bool:
        try:
            invoke(name, event, self._functions)
        except Exception:  # logged here with the detail; the caller only learns "failed"
            log.exception("%s failed on event %s", name, str(event.get("id", ""))[:100])
            return False
        return True


def parse_events(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Events from an Event Grid array (or single object), a structured CloudEvent or a
    CloudEvents batch."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadEvents("the body is not JSON") from None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == CLOUDEVENT and not isinstance(doc, dict):
        raise BadEvents(f"{CLOUDEVENT} carries one event object")
    if media == CLOUDEVENT_BATCH and not isinstance(doc, list):
        raise BadEvents(f"{CLOUDEVENT_BATCH} carries an array of events")
    events = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(event, dict) for event in events):
        raise BadEvents("every event must be a JSON object")
    return events


def _validation_response(event: Mapping[str, Any]) -> Reply:
    data = event.get("data")
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        return Reply.error(400, "the validation event has no validationCode")
    log.info("answered the subscription validation handshake for event %s", event.get("id"))
    return Reply.json(200, {"validationResponse": code})


def _abuse_protection(head: Head) -> Reply:
    """CloudEvents 1.0 webhook validation: allow the requesting origin to deliver."""
    origin = head.header("WebHook-Request-Origin")
    if not origin:
        return Reply.error(400, "WebHook-Request-Origin is required")
    return Reply(200, b"", {"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})
