"""Text that UTF-8 cannot encode: surrogate code points (U+D800-U+DFFF).

JSON may spell one (``"\\ud800"`` is valid JSON) and Python decodes it into a ``str`` that no
UTF-8 encoder takes: not SQLite, not a hash, not an HTTP body. An event that carries one is
refused as bad input at the parser (audited, acknowledged, never retried); the audit trail
stores such text in an encodable, reversible form of its own (``shared.domain.audit``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.domain.errors import Rejected

SURROGATE = re.compile("[\ud800-\udfff]")


def unencodable_at(document: Any) -> tuple[str, str] | None:
    """(path, code point) of the first string in ``document``, object keys included, that
    holds a surrogate, in document order; None when every string encodes. A bad key is
    reported at its object's path. Walked without recursion (the parser bounds the depth)."""
    pending: list[tuple[Any, str]] = [(document, "")]
    while pending:
        value, path = pending.pop()
        children: list[tuple[Any, str]] = []
        if isinstance(value, str):
            texts = [value]
        elif isinstance(value, Mapping):
            texts = [key for key in value if isinstance(key, str)]
            children = [
                (item, f"{path}.{key}" if path else f"{key}") for key, item in value.items()
            ]
        elif isinstance(value, list | tuple):
            texts = []
            children = [(item, f"{path}[{index}]") for index, item in enumerate(value)]
        else:
            continue
        for text in texts:
            found = SURROGATE.search(text)
            if found is not None:
                return path, f"U+{ord(found.group()):04X}"
        pending.extend(reversed(children))
    return None


def check_encodable(document: Any, *, field: str = "event") -> None:
    """Refuse ``document`` when any string or key in it holds a surrogate."""
    found = unencodable_at(document)
    if found is not None:
        path, code_point = found
        raise Rejected(
            f"{path or field} holds the surrogate code point {code_point}, which UTF-8 cannot "
            "encode",
            field=path or field,
        )
