"""Typed domain events parsed from untrusted Event Grid or CloudEvents 1.0 payloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.domain.errors import Rejected
from shared.domain.event_fields import MAX_ID as _MAX_ID
from shared.domain.event_fields import EventMeta as EventMeta  # re-exported
from shared.domain.event_fields import casefolded as _casefolded
from shared.domain.event_fields import clip as clip  # re-exported
from shared.domain.event_fields import invisible as invisible  # re-exported
from shared.domain.event_fields import json_object as _object
from shared.domain.event_fields import present as _present
from shared.domain.event_fields import string_map as _string_map
from shared.domain.event_fields import text_field as _text
from shared.domain.event_fields import time_field as _time
from shared.domain.job_events import RUN_EVENT_TYPES, TrainingRunEvent, parse_run_event
from shared.domain.surrogates import check_encodable
from shared.domain.untrusted_json import check_depth, loads

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
IMAGE_PUSHED = "Microsoft.ContainerRegistry.ImagePushed"
SUBSCRIPTION_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"


@dataclass(frozen=True)
class DataArrived:
    meta: EventMeta
    url: str  # as sent: https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH
    account_url: str  # scheme://host[/devstoreaccount1] part of url
    container: str
    blob_path: str  # decoded path inside the container
    dataset: str  # first segment of blob_path: the prefix a burst coalesces on
    etag: str
    sequencer: str
    content_type: str
    size: int
    api: str  # PutBlob, PutBlockList, CopyBlob, FlushWithClose

    @property
    def business_key(self) -> str:
        return f"blob:{self.url}@{self.etag or self.sequencer}"


@dataclass(frozen=True)
class ModelRegistered:
    meta: EventMeta
    model_name: str
    model_version: str
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def business_key(self) -> str:
        return f"model:{self.model_name}:{self.model_version}"


@dataclass(frozen=True)
class ImagePushed:
    meta: EventMeta
    registry: str  # login server host, e.g. contosomlops.azurecr.io
    repository: str
    digest: str  # sha256:<64 hex>
    tag: str  # informational only; never used to deploy
    media_type: str

    @property
    def image(self) -> str:
        """The reference deployed and remembered: the host in lower case, as DNS compares it,
        so one digest pushed under two spellings of the registry rolls out once. Repository
        and digest are case-sensitive and validation refuses upper case in them."""
        return f"{self.registry.lower()}/{self.repository}@{self.digest}"

    @property
    def business_key(self) -> str:
        return f"image:{self.image}"


@dataclass(frozen=True)
class SubscriptionValidation:
    meta: EventMeta
    validation_code: str
    validation_url: str


DomainEvent = (
    DataArrived | ModelRegistered | ImagePushed | TrainingRunEvent | SubscriptionValidation
)


MAX_BATCH_BYTES = 1024 * 1024
# Event Grid delivers at most maxEventsPerBatch (1 to 5,000) events per request and our
# subscriptions ask for 1 (infra/modules/event-subscription.bicep); 100 leaves room for a
# publisher's batch and bounds the work, and the audit records, one request can cause.
MAX_EVENTS_PER_DELIVERY = 100
CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENT_BATCH = "application/cloudevents-batch+json"
_PATH_STYLE_HOSTS = frozenset({"127.0.0.1", "localhost"})  # Azurite: /ACCOUNT/CONTAINER/...
_SUBJECT_PREFIX = "/blobServices/default/containers/"


class TooManyEvents(Rejected):
    """More events in one delivery than MAX_EVENTS_PER_DELIVERY: refused whole (413)."""


def parse_batch(body: bytes | str | Any, content_type: str = "") -> list[Mapping[str, Any]]:
    """The events of one delivery: an Event Grid array, one CloudEvent, or a CloudEvents batch.
    The one batch parser: the local host's webhook and the domain both use it.

    ``body`` is the raw request body, or JSON already decoded by the host; ``content_type``
    is the request's, when there is one (the CloudEvents media types fix the shape)."""
    if isinstance(body, bytes | bytearray | str):
        raw = body.encode() if isinstance(body, str) else bytes(body)
        if len(raw) > MAX_BATCH_BYTES:
            raise Rejected(f"body is larger than {MAX_BATCH_BYTES} bytes", field="body")
        body = loads(raw)
    else:
        check_depth(body)
    media = content_type.split(";", 1)[0].strip().lower()
    if media == CLOUDEVENT and not isinstance(body, Mapping):
        raise Rejected(f"{CLOUDEVENT} carries one event object", field="body")
    if media == CLOUDEVENT_BATCH and not isinstance(body, list):
        raise Rejected(f"{CLOUDEVENT_BATCH} carries an array of events", field="body")
    if isinstance(body, Mapping):
        return [body]
    if not isinstance(body, list):
        raise Rejected(
            f"body must be a JSON object or array, not {type(body).__name__}", field="body"
        )
    if len(body) > MAX_EVENTS_PER_DELIVERY:
        raise TooManyEvents(
            f"a delivery carries at most {MAX_EVENTS_PER_DELIVERY} events, not {len(body)}",
            field="body",
        )
    for index, item in enumerate(body):
        if not isinstance(item, Mapping):
            raise Rejected(f"event {index} is not a JSON object", field=f"[{index}]")
    return body


def event_type(raw: Mapping[str, Any]) -> object:
    """The type an event claims, in either schema (unchecked: parse_event checks it)."""
    return raw.get("type") if "specversion" in raw else raw.get("eventType")


def parse_event(raw: Mapping[str, Any]) -> DomainEvent:
    """One event in the Event Grid schema or CloudEvents 1.0 (told apart by ``specversion``)."""
    if not isinstance(raw, Mapping):
        raise Rejected(f"event must be a JSON object, not {type(raw).__name__}", field="event")
    check_depth(raw, field="event")
    check_encodable(raw)  # a lone surrogate ("\ud800" is valid JSON) encodes nowhere
    meta, data = _cloud_meta(raw) if "specversion" in raw else _grid_meta(raw)
    parser = _PARSERS.get(meta.type)
    if parser is None:
        raise Rejected(f"unsupported event type {clip(meta.type)}", field="type")
    return parser(meta, data)


def _grid_meta(raw: Mapping[str, Any]) -> tuple[EventMeta, Any]:
    meta = EventMeta(
        id=_text(raw, "id", limit=_MAX_ID),
        type=_text(raw, "eventType", limit=_MAX_ID),
        # Event Grid sets topic on delivery; a custom publisher may leave it out.
        source=_text(raw, "topic", required=False),
        # Empty for some system events (the subscription validation event among them).
        subject=_text(raw, "subject", required=False),
        time=_time(raw, "eventTime", required=True),
    )
    _text(raw, "dataVersion", required=False)
    return meta, _present(raw, "data")


def _cloud_meta(raw: Mapping[str, Any]) -> tuple[EventMeta, Any]:
    if raw["specversion"] != "1.0":  # the string "1.0" exactly: not 1.0, "1", "1.0.0" or "0.3"
        raise Rejected(
            f"unsupported CloudEvents specversion {clip(raw['specversion'])}", field="specversion"
        )
    if "data_base64" in raw:
        # Refused, not decoded: every event this app takes carries JSON data, and a second
        # way to carry it would be a second thing to parse and to get wrong.
        raise Rejected("binary CloudEvents data (data_base64) is not accepted", field="data")
    meta = EventMeta(
        id=_text(raw, "id", limit=_MAX_ID),
        type=_text(raw, "type", limit=_MAX_ID),
        source=_text(raw, "source"),
        subject=_text(raw, "subject", required=False),
        time=_time(raw, "time", required=False),
    )
    return meta, _present(raw, "data")


def _parse_blob_created(meta: EventMeta, data: Any) -> DataArrived:
    body = _object(data, "data")
    url = _text(body, "url", where="data.")
    account_url, container, blob_path = split_blob_url(url)
    subject_container, subject_path = _split_blob_subject(meta.subject)
    if subject_container != container or blob_path not in (subject_path, _unquote(subject_path)):
        raise Rejected("blob URL and subject name different blobs", field="subject")
    size = body.get("contentLength")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise Rejected(
            "data.contentLength must be a non-negative integer", field="data.contentLength"
        )
    return DataArrived(
        meta=meta,
        url=url,
        account_url=account_url,
        container=container,
        blob_path=blob_path,
        dataset=blob_path.split("/", 1)[0] if "/" in blob_path else "",
        etag=_text(body, "eTag", where="data.", limit=_MAX_ID),
        sequencer=_text(body, "sequencer", where="data.", limit=_MAX_ID),
        content_type=_text(body, "contentType", where="data.", limit=_MAX_ID),
        size=size,
        api=_text(body, "api", where="data.", limit=_MAX_ID),
    )


def split_blob_url(url: str) -> tuple[str, str, str]:
    """``(account_url, container, blob_path)`` of a blob URL; the path is decoded exactly once."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Rejected(f"blob URL must be http(s) with a host: {clip(url)}", field="data.url")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise Rejected("blob URL must not carry a query, fragment or credentials", field="data.url")
    segments = parts.path.split("/")[1:]  # the path starts with "/"
    account_url = f"{parts.scheme}://{parts.netloc}"
    if parts.hostname in _PATH_STYLE_HOSTS:
        if not segments or not segments[0]:
            raise Rejected("emulator blob URL has no account segment", field="data.url")
        account_url, segments = f"{account_url}/{segments[0]}", segments[1:]
    if len(segments) < 2 or not segments[0] or not "/".join(segments[1:]):
        raise Rejected(f"URL names no blob inside a container: {clip(url)}", field="data.url")
    return account_url, _unquote(segments[0]), _unquote("/".join(segments[1:]))


def _split_blob_subject(subject: str) -> tuple[str, str]:
    container, sep, path = subject.removeprefix(_SUBJECT_PREFIX).partition("/blobs/")
    if not subject.startswith(_SUBJECT_PREFIX) or not sep or not container or not path:
        raise Rejected(
            f"subject is not /blobServices/default/containers/C/blobs/P: {clip(subject)}",
            field="subject",
        )
    return container, path


def _unquote(text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise Rejected(
            "blob URL percent-encodes bytes that are not UTF-8", field="data.url"
        ) from None


def _parse_model_registered(meta: EventMeta, data: Any) -> ModelRegistered:
    body = _casefolded(_object(data, "data"))
    version = body.get("modelversion")
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    return ModelRegistered(
        meta=meta,
        model_name=_text(body, "modelname", where="data.", limit=_MAX_ID),
        model_version=_text(
            {"modelversion": version}, "modelversion", where="data.", limit=_MAX_ID
        ),
        tags=_string_map(body.get("modeltags"), "data.modelTags"),
        properties=_string_map(body.get("modelproperties"), "data.modelProperties"),
    )


def _parse_image_pushed(meta: EventMeta, data: Any) -> ImagePushed:
    body = _object(data, "data")
    target = _object(body.get("target"), "data.target")
    request = _object(body.get("request"), "data.request")
    return ImagePushed(
        meta=meta,
        registry=_text(request, "host", where="data.request.", limit=_MAX_ID),
        repository=_text(target, "repository", where="data.target.", limit=_MAX_ID),
        # A tag-only push has no digest: kept empty so validation can reject it by name.
        digest=_text(target, "digest", where="data.target.", required=False, limit=_MAX_ID),
        tag=_text(target, "tag", where="data.target.", required=False, limit=_MAX_ID),
        media_type=_text(target, "mediaType", where="data.target.", required=False, limit=_MAX_ID),
    )


def _parse_subscription_validation(meta: EventMeta, data: Any) -> SubscriptionValidation:
    body = _object(data, "data")
    return SubscriptionValidation(
        meta=meta,
        validation_code=_text(body, "validationCode", where="data.", limit=_MAX_ID),
        validation_url=_text(body, "validationUrl", where="data.", required=False),
    )


_PARSERS: dict[str, Callable[[EventMeta, Any], DomainEvent]] = {
    BLOB_CREATED: _parse_blob_created,
    MODEL_REGISTERED: _parse_model_registered,
    IMAGE_PUSHED: _parse_image_pushed,
    **dict.fromkeys(RUN_EVENT_TYPES, parse_run_event),
    SUBSCRIPTION_VALIDATION: _parse_subscription_validation,
}
