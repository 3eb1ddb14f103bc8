"""Logging for the function host and the CLI, with secrets redacted from every record."""

from __future__ import annotations

import logging
import re
from typing import Any

# Values that must never reach a log line, whatever logger or handler emits them.
_SECRET_PATTERNS = (
    re.compile(
        r"(?i)((?:AccountKey|SharedAccessKey|sig|code|client_secret|password|secret)=)[^;&\s]+"
    ),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(x-functions-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs
)
_MASK = "***"
_installed = False


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    # Keep the name (group 1, with its separator), hide the value.
    return (match.group(1) if match.lastindex else "") + _MASK


def configure_logging(level: int = logging.INFO) -> None:
    """Install the redacting record factory once; add a handler only if none exists
    (inside Azure Functions the worker owns the handlers)."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.args or any(p.search(str(record.msg)) for p in _SECRET_PATTERNS):
            record.msg = redact(record.getMessage())
            record.args = None
        return record

    logging.setLogRecordFactory(redacting_factory)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
