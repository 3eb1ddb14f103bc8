"""Secrets never reach a log line, whatever logger emits them."""

from __future__ import annotations

import logging

import pytest

from shared.logging_setup import configure_logging, redact

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
