"""Reversible PartitionKey/RowKey encoding for Azure Table storage.

Table keys forbid ``/ \\ # ?`` and control characters. Each character is encoded on its
own (``%`` + two hex digits for the forbidden ones and ``%`` itself), so ``encode(p)`` is
a prefix of ``encode(k)`` whenever ``p`` is a prefix of ``k``: a prefix query on the raw
key becomes a range query on the encoded one. Encoded order differs from raw order, so
callers sort decoded keys themselves.
"""

from __future__ import annotations

import re

_MUST_ESCAPE = frozenset("%/\\#?") | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPED = re.compile(r"%([0-9A-F]{2})")
MAX_KEY_CHARS = 512  # 1 KiB of UTF-16, the service's limit for each key


def encode_key(raw: str) -> str:
    encoded = "".join(f"%{ord(char):02X}" if char in _MUST_ESCAPE else char for char in raw)
    if len(encoded) > MAX_KEY_CHARS:
        raise ValueError(f"key is {len(encoded)} characters once encoded; the limit is 512")
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
