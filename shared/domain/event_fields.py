"""The field readers every event parser shares: bounded strings and maps, times, the
envelope's metadata, and a printable rendering of untrusted input for messages."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.domain.errors import Rejected

ECHO = 100  # never quote more than this many characters of a payload in a message
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
MAX_ID = 256
MAX_TEXT = 2048  # subject, source, URL
MAX_TAGS = 200
MAX_TAG_KEY = 256
MAX_TAG_VALUE = 4096


@dataclass(frozen=True)
class EventMeta:
    id: str
    type: str
    source: str  # Event Grid "topic" / CloudEvents "source": the ARM id of the publisher
    subject: str
    time: datetime | None


def invisible(char: str) -> bool:
    """Control, format and line/paragraph separators: characters that can hide or fake text
    in a path, a log line or an audit record."""
    return unicodedata.category(char) in _INVISIBLE


def clip(value: object, limit: int = ECHO) -> str:
    """A bounded, printable rendering of untrusted input for reasons and logs."""
    text = value if isinstance(value, str) else type(value).__name__
    shown = text[:limit].encode("unicode_escape").decode("ascii")
    return repr(shown + ("…" if len(text) > limit else ""))


def casefolded(body: Mapping[str, Any]) -> dict[str, Any]:
    """Keys lowercased; two spellings of one key with different values are ambiguous."""
    folded: dict[str, Any] = {}
    for key, value in body.items():
        name = str(key).lower()
        if name in folded and folded[name] != value:
            raise Rejected(f"data has conflicting spellings of {clip(name)}", field=f"data.{name}")
        folded[name] = value
    return folded


def string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Rejected(f"{where} must be an object", field=where)
    if len(value) > MAX_TAGS:
        raise Rejected(f"{where} has more than {MAX_TAGS} entries", field=where)
    result: dict[str, str] = {}
    for key, item in value.items():
        text = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
        if len(str(key)) > MAX_TAG_KEY or len(text) > MAX_TAG_VALUE:
            raise Rejected(f"{where} has an oversized entry {clip(str(key))}", field=where)
        result[str(key)] = text
    return result


def present(raw: Mapping[str, Any], name: str) -> Any:
    if raw.get(name) is None:
        raise Rejected(f"missing required field {name}", field=name)
    return raw[name]


def json_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Rejected(f"{where} must be a JSON object", field=where)
    return value


def text_field(
    raw: Mapping[str, Any],
    name: str,
    *,
    where: str = "",
    required: bool = True,
    limit: int = MAX_TEXT,
) -> str:
    """A string field: present and non-empty when required, at most ``limit`` characters."""
    field_name = where + name
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise Rejected(f"missing required field {field_name}", field=field_name)
        return ""
    if not isinstance(value, str):
        raise Rejected(f"{field_name} must be a string", field=field_name)
    if len(value) > limit:
        raise Rejected(f"{field_name} is longer than {limit} characters", field=field_name)
    return value


def time_field(raw: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    text = text_field(raw, name, required=required, limit=64)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(f"{name} is not an ISO 8601 time: {clip(text)}", field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
