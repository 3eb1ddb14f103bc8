"""Secrets never reach a log line, whatever logger emits them, and a log call never raises."""

from __future__ import annotations

import logging

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient

from shared.logging_setup import configure_logging, redact
from tests.contract.recording import Canned, RecordingTransport

SECRETS = (
    "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5MTIz;",
    "https://x.blob.core.windows.net/c/b?sv=2024&sig=Zm9vYmFyYmF6",
    "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    "POST /runtime/webhooks/eventgrid?functionName=x&code=a1b2c3d4e5",
    "client_secret=p@ssw0rd-value",
)


@pytest.mark.parametrize("text", SECRETS)
def test_redact_masks_the_value_and_keeps_the_name(text: str) -> None:
    masked = redact(text)
    assert "***" in masked
    for value in ("c2VjcmV0a2V5MTIz", "Zm9vYmFyYmF6", "c2lnbmF0dXJl", "a1b2c3d4e5", "p@ssw0rd"):
        assert value not in masked


def test_records_from_any_logger_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("connecting with %s", SECRETS[0])
    assert "c2VjcmV0a2V5MTIz" not in caplog.text
    assert "AccountKey=***" in caplog.text


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("AccountKey=c2VjcmV0a2V5MTIz")


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("%d items", ("many",)),  # TypeError from %-formatting
        ("%s and %s", ("one",)),  # too few arguments
        ("%(name)s", ("not a mapping",)),
        ("%s", (Unprintable(),)),  # the argument's __str__ raises
        (Unprintable(), ()),  # so does the message's
        (Unprintable(), ("x",)),
    ],
)
def test_a_bad_log_call_never_raises_and_leaks_nothing(
    caplog: pytest.LogCaptureFixture, msg: object, args: tuple[object, ...]
) -> None:
    configure_logging()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info(msg, *args)  # must not raise
    [record] = caplog.records
    assert "c2VjcmV0a2V5MTIz" not in record.getMessage()
    assert "unformattable log arguments" in record.getMessage() or "cannot be shown" in (
        record.getMessage()
    )


def test_a_template_that_cannot_be_formatted_is_still_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging()
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").warning("AccountKey=c2VjcmV0a2V5MTIz %d", "x")
    assert "c2VjcmV0a2V5MTIz" not in caplog.text
    assert "AccountKey=*** %d [unformattable log arguments: TypeError]" in caplog.text


def test_azure_sdk_loggers_are_at_warning_even_those_set_lower(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger("azure.ai.ml").setLevel(logging.INFO)  # what azure-ai-ml's import does
    configure_logging()
    for name in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.ai.ml"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name


def test_sdk_request_headers_never_reach_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    """azure-core's HttpLoggingPolicy logs each request's URL and headers at INFO."""
    configure_logging()
    transport = RecordingTransport()
    transport.add("GET", r"/mlopsstate\(PartitionKey=", Canned(404))
    table = TableClient(
        "https://contosodata.table.core.windows.net",
        "mlopsstate",
        credential=AzureNamedKeyCredential("contosodata", "a2V5"),
        transport=transport,
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(HttpResponseError):
        table.get_entity("kind", "key")
    assert len(transport.requests) == 1
    assert not [r for r in caplog.records if r.name.startswith("azure.")]
