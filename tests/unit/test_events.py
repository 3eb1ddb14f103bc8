"""Parsing untrusted Event Grid / CloudEvents payloads into domain events."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.domain.errors import Rejected
from shared.domain.events import (
    MAX_BATCH_BYTES,
    DataArrived,
    ImagePushed,
    ModelRegistered,
    SubscriptionValidation,
    parse_batch,
    parse_event,
)
from tests.conftest import to_cloud

DIGEST = "sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5"
STORAGE_TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mlops"
    "/providers/Microsoft.Storage/storageAccounts/contosodata"
)

# Shapes follow the Azure docs ("Azure Blob Storage as an Event Grid source", etc.).
BLOB_EG: dict[str, Any] = {
    "topic": STORAGE_TOPIC,
    "subject": "/blobServices/default/containers/training-data/blobs/spam/batch 1.csv",
    "eventType": "Microsoft.Storage.BlobCreated",
    "eventTime": "2017-06-26T18:41:00.9584103Z",
    "id": "831e1650-001e-001b-66ab-eeb76e069631",
    "data": {
        "api": "PutBlockList",
        "clientRequestId": "6d79dbfb-0e37-4fc4-981f-442c9ca65760",
        "requestId": "831e1650-001e-001b-66ab-eeb76e000000",
        "eTag": '"0x8D4BCC2E4835CD0"',
        "contentType": "text/csv",
        "contentLength": 524288,
        "blobType": "BlockBlob",
        "url": "https://contosodata.blob.core.windows.net/training-data/spam/batch%201.csv",
        "sequencer": "00000000000004420000000000028963",
        "storageDiagnostics": {"batchId": "b68529f3-68cd-4744-baa4-3c0498ec19f0"},
    },
    "dataVersion": "",
    "metadataVersion": "1",
}
MODEL_CE: dict[str, Any] = {
    "source": "/subscriptions/0000/resourceGroups/rg/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw",
    "subject": "models/sklearn_regression_model:20",
    "type": "Microsoft.MachineLearningServices.ModelRegistered",
    "time": "2017-06-26T18:41:00.9584103Z",
    "id": "831e1650-001e-001b-66ab-eeb76e069631",
    "data": {
        "ModelName": "sklearn_regression_model",
        "ModelVersion": 20,
        "ModelTags": {"area": "diabetes", "type": "regression"},
        "ModelProperties": {"type": "test"},
    },
    "specversion": "1.0",
}
IMAGE_CE: dict[str, Any] = {
    "id": "831e1650-001e-001b-66ab-eeb76e069631",
    "source": "/subscriptions/0000/resourceGroups/rg/providers/"
    "Microsoft.ContainerRegistry/registries/contosomlops",
    "subject": "mlops/sklearn-serving:v1",
    "type": "Microsoft.ContainerRegistry.ImagePushed",
    "time": "2018-04-25T21:39:47.6549614Z",
    "data": {
        "id": "31c51664-e5bd-416a-a5df-e5206bc47ed0",
        "timestamp": "2018-04-25T21:39:47.276585742Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 3023,
            "digest": DIGEST,
            "length": 3023,
            "repository": "mlops/sklearn-serving",
            "tag": "v1",
        },
        "request": {
            "id": "7c66f28b-de19-40a4-821c-6f5f6c0003a4",
            "host": "contosomlops.azurecr.io",
            "method": "PUT",
            "useragent": "docker/18.03.0-ce go/go1.9.4",
        },
    },
    "specversion": "1.0",
}
VALIDATION_EG: dict[str, Any] = {
    "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
    "topic": "/subscriptions/xx/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
    "subject": "",
    "data": {
        "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
        "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate",
    },
    "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
    "eventTime": "2018-01-25T22:12:19.4556811Z",
    "metadataVersion": "1",
    "dataVersion": "1",
}


def to_grid(event: dict[str, Any]) -> dict[str, Any]:
    """The same event in the Event Grid schema."""
    return {
        "id": event["id"],
        "topic": event["source"],
        "subject": event["subject"],
        "eventType": event["type"],
        "eventTime": event["time"],
        "data": copy.deepcopy(event["data"]),
        "dataVersion": "1",
    }


def rejected(raw: Any, *, field: str | None = None, match: str | None = None) -> Rejected:
    with pytest.raises(Rejected, match=match) as info:
        parse_event(raw)
    if field is not None:
        assert info.value.field == field
    assert len(str(info.value)) < 300
    return info.value


def with_data(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["data"].update(changes)
    return changed


@pytest.mark.parametrize("raw", [BLOB_EG, to_cloud(BLOB_EG)], ids=["eventgrid", "cloudevents"])
def test_blob_created_in_both_schemas(raw: dict[str, Any]) -> None:
    event = parse_event(raw)
    assert isinstance(event, DataArrived)
    assert event.meta.id == "831e1650-001e-001b-66ab-eeb76e069631"
    assert event.meta.source == STORAGE_TOPIC
    assert event.meta.time == datetime(2017, 6, 26, 18, 41, 0, 958410, tzinfo=UTC)
    assert event.account_url == "https://contosodata.blob.core.windows.net"
    assert (event.container, event.blob_path, event.dataset) == (
        "training-data",
        "spam/batch 1.csv",
        "spam",
    )
    assert (event.etag, event.sequencer) == (
        '"0x8D4BCC2E4835CD0"',
        "00000000000004420000000000028963",
    )
    assert (event.content_type, event.size, event.api) == ("text/csv", 524288, "PutBlockList")
    assert event.business_key.startswith("blob:https://contosodata")


def test_azurite_path_style_url_keeps_the_account_segment() -> None:
    raw = with_data(
        BLOB_EG, url="http://127.0.0.1:10000/devstoreaccount1/training-data/spam/batch%201.csv"
    )
    event = parse_event(raw)
    assert isinstance(event, DataArrived)
    assert event.account_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert (event.container, event.blob_path) == ("training-data", "spam/batch 1.csv")


def test_blob_url_is_decoded_exactly_once() -> None:
    raw = with_data(BLOB_EG, url=BLOB_EG["data"]["url"].replace("batch%201", "a%252e%252e"))
    raw["subject"] = raw["subject"].replace("batch 1", "a%2e%2e")
    event = parse_event(raw)
    assert isinstance(event, DataArrived)
    assert event.blob_path == "spam/a%2e%2e.csv"  # left for validation to reject


def test_blob_at_container_root_has_no_dataset() -> None:
    raw = with_data(BLOB_EG, url="https://contosodata.blob.core.windows.net/training-data/x.csv")
    raw["subject"] = "/blobServices/default/containers/training-data/blobs/x.csv"
    event = parse_event(raw)
    assert isinstance(event, DataArrived)
    assert (event.blob_path, event.dataset) == ("x.csv", "")


@pytest.mark.parametrize(
    ("url", "subject", "reason"),
    [
        ("https://contosodata.blob.core.windows.net/other/spam/batch%201.csv", None, "different"),
        ("https://contosodata.blob.core.windows.net/training-data/ham/x.csv", None, "different"),
        (None, "/blobServices/default/containers/training-data/spam.csv", "subject is not"),
        (None, "/something/else", "subject is not"),
        ("ftp://contosodata/training-data/spam/a.csv", None, "http"),
        ("https://contosodata.blob.core.windows.net/training-data/spam/a.csv?sig=x", None, "query"),
        ("https://user:pw@contosodata.blob.core.windows.net/training-data/a/b.csv", None, "cred"),
        ("https://contosodata.blob.core.windows.net/training-data", None, "no blob"),
        ("https://contosodata.blob.core.windows.net/training-data/", None, "no blob"),
        ("http://127.0.0.1:10000/", None, "account segment"),
        ("https://contosodata.blob.core.windows.net/training-data/%ff.csv", None, "UTF-8"),
        ("https:///training-data/a/b.csv", None, "host"),
    ],
)
def test_blob_url_and_subject_must_agree_and_be_sane(
    url: str | None, subject: str | None, reason: str
) -> None:
    raw = with_data(BLOB_EG, url=url) if url else copy.deepcopy(BLOB_EG)
    if subject:
        raw["subject"] = subject
    rejected(raw, match=reason)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("url", None),
        ("url", 5),
        ("eTag", ""),
        ("sequencer", None),
        ("contentType", ["text/csv"]),
        ("api", None),
        ("contentLength", "524288"),
        ("contentLength", -1),
        ("contentLength", True),
        ("contentLength", None),
    ],
)
def test_blob_data_fields_are_required_and_typed(name: str, value: Any) -> None:
    raw = copy.deepcopy(BLOB_EG)
    if value is None:
        del raw["data"][name]
    else:
        raw["data"][name] = value
    assert rejected(raw).field == f"data.{name}"


@pytest.mark.parametrize("raw", [MODEL_CE, to_grid(MODEL_CE)], ids=["cloudevents", "eventgrid"])
def test_model_registered_in_both_schemas(raw: dict[str, Any]) -> None:
    event = parse_event(raw)
    assert isinstance(event, ModelRegistered)
    assert (event.model_name, event.model_version) == ("sklearn_regression_model", "20")
    assert event.tags == {"area": "diabetes", "type": "regression"}
    assert event.properties == {"type": "test"}
    assert event.business_key == "model:sklearn_regression_model:20"


def test_model_fields_are_case_insensitive_and_coerced() -> None:
    raw = copy.deepcopy(MODEL_CE)
    raw["data"] = {
        "modelName": "spam-classifier",
        "modelVersion": "7",
        "modelTags": {"gate": "passed", "accuracy": 0.97, "balanced": True},
    }
    event = parse_event(raw)
    assert isinstance(event, ModelRegistered)
    assert (event.model_name, event.model_version) == ("spam-classifier", "7")
    assert event.tags == {"gate": "passed", "accuracy": "0.97", "balanced": "true"}
    assert event.properties == {}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"ModelVersion": 1}, "data.modelname"),
        ({"ModelName": "m"}, "data.modelversion"),
        ({"ModelName": "m", "ModelVersion": True}, "data.modelversion"),
        ({"ModelName": "m", "ModelVersion": 1.5}, "data.modelversion"),
        ({"ModelName": 3, "ModelVersion": 1}, "data.modelname"),
        ({"ModelName": "m", "ModelVersion": 1, "ModelTags": ["a"]}, "data.modelTags"),
        ({"ModelName": "m", "ModelVersion": 1, "ModelProperties": "x"}, "data.modelProperties"),
        ({"ModelName": "a", "modelName": "b", "ModelVersion": 1}, "data.modelname"),
        ({"ModelName": "m", "ModelVersion": 1, "ModelTags": {"k": "v" * 5000}}, "data.modelTags"),
        (
            {"ModelName": "m", "ModelVersion": 1, "ModelTags": {str(i): "" for i in range(201)}},
            "data.modelTags",
        ),
    ],
)
def test_model_rejections(data: dict[str, Any], field: str) -> None:
    assert rejected({**MODEL_CE, "data": data}).field == field


@pytest.mark.parametrize("raw", [IMAGE_CE, to_grid(IMAGE_CE)], ids=["cloudevents", "eventgrid"])
def test_image_pushed_in_both_schemas(raw: dict[str, Any]) -> None:
    event = parse_event(raw)
    assert isinstance(event, ImagePushed)
    assert event.registry == "contosomlops.azurecr.io"
    assert (event.repository, event.digest, event.tag) == ("mlops/sklearn-serving", DIGEST, "v1")
    assert event.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert event.image == f"contosomlops.azurecr.io/mlops/sklearn-serving@{DIGEST}"


def test_image_digest_is_kept_as_sent_even_if_missing() -> None:
    raw = copy.deepcopy(IMAGE_CE)
    del raw["data"]["target"]["digest"]
    del raw["data"]["target"]["mediaType"]
    event = parse_event(raw)
    assert isinstance(event, ImagePushed)
    assert (event.digest, event.tag, event.media_type) == ("", "v1", "")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("target",), None, "data.target"),
        (("request",), "x", "data.request"),
        (("target", "repository"), None, "data.target.repository"),
        (("target", "digest"), 12, "data.target.digest"),
        (("request", "host"), "", "data.request.host"),
    ],
)
def test_image_rejections(path: tuple[str, ...], value: Any, field: str) -> None:
    raw = copy.deepcopy(IMAGE_CE)
    parent = raw["data"]
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    assert rejected(raw).field == field


@pytest.mark.parametrize(
    "raw", [VALIDATION_EG, to_cloud(VALIDATION_EG)], ids=["eventgrid", "cloudevents"]
)
def test_subscription_validation(raw: dict[str, Any]) -> None:
    event = parse_event(raw)
    assert isinstance(event, SubscriptionValidation)
    assert event.validation_code == "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    assert event.validation_url.startswith("https://rp-eastus2.eventgrid.azure.net")
    missing = with_data(raw, validationCode=None)
    assert rejected(missing).field == "data.validationCode"


def test_cloud_event_time_and_subject_are_optional() -> None:
    raw = {k: v for k, v in IMAGE_CE.items() if k not in ("time", "subject")}
    event = parse_event(raw)
    assert event.meta.time is None
    assert event.meta.subject == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"id": 42}, "id"),
        ({"id": "x" * 300}, "id"),
        ({"eventType": None}, "eventType"),
        ({"subject": 7}, "subject"),
        ({"subject": "s" * 3000}, "subject"),
        ({"eventTime": None}, "eventTime"),
        ({"eventTime": "yesterday"}, "eventTime"),
        ({"topic": 1}, "topic"),
        ({"dataVersion": 1}, "dataVersion"),
        ({"data": None}, "data"),
        ({"data": "text"}, "data"),
    ],
)
def test_event_grid_envelope_rejections(change: dict[str, Any], field: str) -> None:
    raw = {**copy.deepcopy(BLOB_EG), **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    assert rejected(raw).field == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"source": None}, "source"),
        ({"type": None}, "type"),
        ({"time": 17}, "time"),
        ({"data": None}, "data"),
        ({"data_base64": "AAAA"}, "data"),
    ],
)
def test_cloud_event_envelope_rejections(change: dict[str, Any], field: str) -> None:
    raw = {**copy.deepcopy(IMAGE_CE), **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    assert rejected(raw).field == field


def test_unknown_type_is_named_but_truncated() -> None:
    raw = {**copy.deepcopy(IMAGE_CE), "type": "Contoso.Evil." + "A" * 200}
    error = rejected(raw, field="type", match="unsupported event type 'Contoso.Evil.AAA")
    assert "A" * 101 not in str(error)


@pytest.mark.parametrize("raw", [[], "event", 3, None])
def test_event_must_be_an_object(raw: Any) -> None:
    rejected(raw, field="event")


def test_messages_never_echo_much_of_the_payload() -> None:
    secret_ish = "s3cr3t" * 100
    raw = with_data(BLOB_EG, url=f"https://contosodata.blob.core.windows.net/{secret_ish}")
    assert secret_ish[:120] not in str(rejected(raw))


def test_parse_batch_accepts_arrays_and_single_cloud_events() -> None:
    assert parse_batch(json.dumps([BLOB_EG, VALIDATION_EG]).encode()) == [BLOB_EG, VALIDATION_EG]
    assert parse_batch(json.dumps(IMAGE_CE)) == [IMAGE_CE]
    assert parse_batch([MODEL_CE]) == [MODEL_CE]
    assert parse_batch(b"\xef\xbb\xbf[]") == []


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b"[NaN]", "NaN"),
        (b"42", "object or array"),
        (b'"text"', "object or array"),
        (b"[1, {}]", "event 0"),
        (b"[" * 100_000 + b"]" * 100_000, "nested|larger"),
        (b" " * (MAX_BATCH_BYTES + 1), "larger"),
        (7, "object or array"),
    ],
)
def test_parse_batch_rejections(body: Any, match: str) -> None:
    with pytest.raises(Rejected, match=match):
        parse_batch(body)
