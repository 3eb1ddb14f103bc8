"""Reversible PartitionKey/RowKey encoding for Azure Table storage.

Table keys forbid ``/ \\ # ?`` and the control characters U+0000-001F and U+007F-009F. The
escape needs no percent-decoding: a ``%`` in a key does not survive every path through the
service's URL decoding, so no encoded key contains one. The escape character is ``~``
(unreserved in URLs: nothing encodes or decodes it) and an escaped character is ``~`` plus
two upper-case hex digits. Escaped: the forbidden characters, ``%``, ``+`` (a space to form
decoders), ``'`` (the OData string quote) and ``~`` itself; everything else, Unicode
included, is stored as it is.

Each character is encoded on its own, so ``encode(p)`` is a prefix of ``encode(k)`` whenever
``p`` is a prefix of ``k``: a prefix query on the raw key becomes a range query on the
encoded one. Encoded order differs from raw order, so callers sort decoded keys themselves.
"""

from __future__ import annotations

import re

_ESCAPE = "~"
_MUST_ESCAPE = frozenset(_ESCAPE + "%+'/\\#?") | {
    chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))
}
_ESCAPED = re.compile(r"~([0-9A-F]{2})")
MAX_KEY_BYTES = 1024  # each key holds up to 1 KiB, counted in UTF-16


def encode_key(raw: str) -> str:
    encoded = "".join(f"{_ESCAPE}{ord(char):02X}" if char in _MUST_ESCAPE else char for char in raw)
    size = len(encoded.encode("utf-16-le", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise ValueError(f"key is {size} bytes (UTF-16) once encoded; the limit is 1024")
    return encoded


def decode_key(encoded: str) -> str:
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), encoded)


def prefix_range(encoded_prefix: str) -> tuple[str, str | None]:
    """``(low, high)`` with low <= key < high for every key starting with the prefix; high
    is None when no simple successor exists (callers then also filter by prefix)."""
    last = ord(encoded_prefix[-1]) if encoded_prefix else -1
    if last < 0 or last + 1 >= 0xD800:  # empty prefix, or the successor is a surrogate
        return encoded_prefix, None
    return encoded_prefix, encoded_prefix[:-1] + chr(last + 1)
