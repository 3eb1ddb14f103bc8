"""The manual API's request bodies and identifiers, checked strictly.

The schemas name every field a caller may set; anything else (an image, an instance type, a
command, environment variables) is refused by name, never ignored. Each failure raises
``Rejected`` whose message names the field and never echoes an unbounded value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import Rejected
from shared.domain.validation import (
    MAX_SEGMENT_BYTES,
    check_blob_path,
    check_model_name,
    check_version,
)
from shared.domain.values import ModelRef

MAX_REASON = 500
MAX_IDEMPOTENCY_KEY = 128

REDEPLOY_FIELDS = ("model", "version", "reason", "supersede")
ROLLBACK_FIELDS = ("reason", "supersede")
TRAIN_FIELDS = ("reason",)

# The patterns as the OpenAPI document states them (matched here as a whole, as JSON Schema's
# ECMA-262 `$` means). Azure ML online endpoint names: a letter, then letters, digits and
# '-', 3-32 in all.
ENDPOINT_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{2,31}$"
# A rollout (ro-) or a training request (tr-).
OPERATION_ID_PATTERN = r"^(?:ro|tr)-[0-9a-f]{20}$"
IDEMPOTENCY_KEY_PATTERN = rf"^[A-Za-z0-9._:-]{{1,{MAX_IDEMPOTENCY_KEY}}}$"
_ENDPOINT = re.compile(ENDPOINT_PATTERN)
_OPERATION_ID = re.compile(OPERATION_ID_PATTERN)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

# What a reason may not contain: Unicode's control (Cc) and format (Cf) characters and the
# line and paragraph separators (Zl, Zp), as of Unicode 15.1 (Python 3.13). Written out rather
# than asked of unicodedata, so this check and the OpenAPI pattern built from it are the same
# rule on every Python (3.11 knows Unicode 14: U+13439-U+1343F are not Cf there).
HIDDEN_RANGES = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
# The space separators (Zs): what str.strip() removes once the hidden characters are out.
SPACE_RANGES = (
    (0x0020, 0x0020),
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A regex class body. BMP characters as \\uXXXX (ECMA-262, Python and Rust agree on
    that); astral ones as themselves, since no escape for them is common to all three."""

    def one(code: int) -> str:
        return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)

    return "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in ranges)


_HIDDEN = _char_class(HIDDEN_RANGES)
# Not hidden anywhere, and something besides spaces: the reason's whole rule, as one pattern.
REASON_PATTERN = f"^[^{_HIDDEN}]*[^{_HIDDEN}{_char_class(SPACE_RANGES)}][^{_HIDDEN}]*$"
_REASON = re.compile(REASON_PATTERN)
_HIDDEN_CHAR = re.compile(f"[{_HIDDEN}]")

# A dataset is the first folder of a blob path: one segment check_blob_path accepts. JSON
# Schema counts characters, not UTF-8 bytes, so the document states 62 characters (at most 4
# bytes each: within the 250-byte segment limit) and leaves out '%' (the code refuses only
# the encoded separators) and private-use code points (which Azure refuses in blob names).
# Every name the document allows is accepted; the code accepts a little more, never less.
# The astral private-use planes are a lookahead: in the negated class, their 131,068 code
# points made each generated name cost fuzzers (hypothesis) ten times as much.
DATASET_MAX_CHARS = MAX_SEGMENT_BYTES // 4
_NOT_IN_DATASET = rf"/\\%{_HIDDEN}{_char_class(((0xE000, 0xF8FF),))}"
_ASTRAL_PRIVATE_USE = _char_class(((0xF0000, 0x10FFFF),))
DATASET_PATTERN = f"^(?!.*[{_ASTRAL_PRIVATE_USE}])[^{_NOT_IN_DATASET}]*[^{_NOT_IN_DATASET}.]$"


@dataclass(frozen=True)
class RedeployRequest:
    model: ModelRef
    reason: str
    supersede: bool


@dataclass(frozen=True)
class RollbackRequest:
    reason: str
    supersede: bool


@dataclass(frozen=True)
class TrainRequest:
    reason: str


def parse_redeploy(body: Mapping[str, Any]) -> RedeployRequest:
    _only(body, REDEPLOY_FIELDS)
    name = _string(body, "model")
    version = _string(body, "version")
    try:
        check_model_name(name)
        check_version(version)
    except Rejected as rejected:  # name the field as the caller spelled it
        field = "model" if rejected.field == "model_name" else "version"
        raise Rejected(rejected.reason, field=field) from None
    return RedeployRequest(ModelRef(name, version), _reason(body), _flag(body, "supersede"))


def parse_rollback(body: Mapping[str, Any]) -> RollbackRequest:
    _only(body, ROLLBACK_FIELDS)
    return RollbackRequest(_reason(body), _flag(body, "supersede"))


def parse_train(body: Mapping[str, Any]) -> TrainRequest:
    _only(body, TRAIN_FIELDS)
    return TrainRequest(_reason(body))


def check_dataset_name(value: str) -> str:
    """A folder name a blob may have as its first segment (what ``DataArrived.dataset`` is);
    anything else could never hold an accepted file. Raises Rejected naming the rule."""
    if "/" in value:
        raise Rejected("dataset is one folder name, without '/'", field="dataset")
    try:
        check_blob_path(value)
    except Rejected as rejected:
        raise Rejected(
            f"dataset is not a folder name a blob may have: {rejected.reason}", field="dataset"
        ) from None
    return value


def is_endpoint_name(value: str) -> bool:
    return bool(_ENDPOINT.fullmatch(value))


def is_operation_id(value: str) -> bool:
    return bool(_OPERATION_ID.fullmatch(value))


def check_idempotency_key(value: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise Rejected(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} of [A-Za-z0-9._:-]",
            field="Idempotency-Key",
        )
    return value


def _only(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(str(key) for key in body if key not in allowed)
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:10])
        raise Rejected(
            f"unknown field(s) {shown}; allowed: {', '.join(allowed)}", field=unknown[0][:40]
        )


def _string(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:
        raise Rejected(f"{field} is required", field=field)
    if not isinstance(value, str):
        raise Rejected(f"{field} must be a string", field=field)
    return value


def _reason(body: Mapping[str, Any]) -> str:
    """As REASON_PATTERN and MAX_REASON say, counted as sent (before the spaces around it
    are trimmed), so what the OpenAPI document calls valid is accepted and nothing else."""
    reason = _string(body, "reason")
    if len(reason) > MAX_REASON:
        raise Rejected(f"reason is longer than {MAX_REASON} characters", field="reason")
    if _HIDDEN_CHAR.search(reason):
        raise Rejected("reason contains control or format characters", field="reason")
    if not _REASON.fullmatch(reason):
        raise Rejected("reason must not be empty", field="reason")
    return reason.strip()


def _flag(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise Rejected(f"{field} must be true or false", field=field)
    return value
