"""Logging for the function host and the CLI, with secrets redacted from every record."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from shared.domain.text import neutralise

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
# Every Azure SDK logger sits under this one. azure-core's HttpLoggingPolicy logs each
# request's URL and headers at INFO, and the Functions worker forwards INFO to the host.
AZURE_SDK_LOGGER = "azure"
_installed = False


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    # Keep the name (group 1, with its separator), hide the value.
    return (match.group(1) if match.lastindex else "") + _MASK


def configure_logging(level: int = logging.INFO) -> None:
    """Quiet the Azure SDK loggers; install the redacting record factory once; add a
    handler only if none exists (inside Azure Functions the worker owns the handlers)."""
    global _installed
    quiet_azure_sdk()
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            _redact_record(record)
        except Exception:  # the factory runs inside the caller's log call: never raise there
            record.msg, record.args = "unloggable record (redaction failed)", None
        _one_line(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def quiet_azure_sdk() -> None:
    """Azure SDK loggers at WARNING, also those a package set lower itself (azure-ai-ml sets
    ``azure.ai.ml`` to INFO when imported: call this again after importing it)."""
    logging.getLogger(AZURE_SDK_LOGGER).setLevel(logging.WARNING)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (
            name.startswith(AZURE_SDK_LOGGER + ".")
            and isinstance(logger, logging.Logger)
            and logging.NOTSET < logger.level < logging.WARNING
        ):
            logger.setLevel(logging.WARNING)


def _redact_record(record: logging.LogRecord) -> None:
    """Format the message once, redact it and drop the arguments. Formatting happens here,
    in the caller's frame, not in a handler that would catch the error: a record whose
    arguments do not fit (``"%d"`` with a string, a ``__str__`` that raises) keeps its
    template and the error's type instead, so a bad log call never raises."""
    if not record.args and isinstance(record.msg, str):
        if any(pattern.search(record.msg) for pattern in _SECRET_PATTERNS):
            record.msg = redact(record.msg)
        return
    try:
        text = record.getMessage()
    except Exception as error:  # the arguments are not shown: they may hold the secret
        text = f"{_template(record.msg)} [unformattable log arguments: {type(error).__name__}]"
    record.msg, record.args = redact(text), None


def _template(msg: object) -> str:
    try:
        return str(msg)
    except Exception:
        return f"<{type(msg).__name__} that cannot be shown>"


# Lines of a formatted traceback that are the interpreter's and the code's own text; every
# other line is an exception's message or note, which may quote outside input.
_TRACEBACK_OWN = (
    "Traceback (most recent call last):",
    "  File ",
    "\nThe above exception was the direct cause",
    "\nDuring handling of the above exception",
    "  [Previous line repeated",
)


def _one_line(record: logging.LogRecord) -> None:
    """A message built from outside text (an event id, a URL path) stays one line that
    cannot drive a terminal: neutralised once formatted, and so is each exception message of
    its traceback. Never raises (it runs inside the caller's log call)."""
    try:
        if record.args:
            record.msg, record.args = record.getMessage(), None
        record.msg = neutralise(str(record.msg))
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _traceback_text(record.exc_info[1])
    except Exception:
        record.msg, record.args = "unloggable record (neutralising failed)", None


def _traceback_text(error: BaseException) -> str:
    """The traceback as logging.Formatter would show it, each exception's message and notes
    on one neutralised line."""
    parts: list[str] = []
    outside: list[str] = []
    for chunk in traceback.TracebackException.from_exception(error).format():
        if chunk.startswith(_TRACEBACK_OWN):
            if outside:
                parts.append(neutralise("".join(outside).rstrip("\n")) + "\n")
                outside = []
            parts.append(chunk)
        else:
            outside.append(chunk)
    if outside:
        parts.append(neutralise("".join(outside).rstrip("\n")))
    return "".join(parts).rstrip("\n")
