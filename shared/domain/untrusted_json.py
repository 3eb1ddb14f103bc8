"""JSON from outside, decoded within bounds: every failure is ``Rejected``, never a crash.

The standard decoder raises RecursionError on deep nesting, ValueError (not JSONDecodeError)
on an integer over Python's 4,300-digit limit, and turns ``1e999`` into infinity; each would
reach a caller as a 500 or as a number no event means. The limits here are explicit, so they
do not depend on the interpreter's recursion limit or ``sys.set_int_max_str_digits``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from shared.domain.errors import Rejected

MAX_DEPTH = 32  # an Event Grid event nests 4 deep; nothing we read needs more
MAX_INT_DIGITS = 20  # an int64 has at most 19 digits and a sign


def loads(raw: bytes, *, field: str = "body") -> Any:
    """Strict JSON: UTF-8 (a BOM allowed), no NaN/Infinity, finite numbers, bounded integers
    and nesting."""

    def no_constant(name: str) -> Any:
        raise Rejected(f"JSON constant {name} is not allowed", field=field)

    def integer(text: str) -> int:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise Rejected(f"an integer has more than {MAX_INT_DIGITS} digits", field=field)
        return int(text)

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise Rejected("a number is too large for a double", field=field)
        return value

    try:
        text = raw.decode("utf-8-sig")
        document = json.loads(
            text, parse_constant=no_constant, parse_int=integer, parse_float=number
        )
    except Rejected:
        raise
    except UnicodeDecodeError:
        raise Rejected(f"{field} is not valid UTF-8", field=field) from None
    except json.JSONDecodeError as exc:
        # The message only, never exc.doc: it holds the whole body.
        raise Rejected(f"{field} is not valid JSON ({exc.msg} at {exc.pos})", field=field) from None
    except (RecursionError, ValueError):
        raise Rejected(f"{field} is nested too deeply or malformed", field=field) from None
    check_depth(document, field=field)
    return document


def check_depth(document: Any, *, field: str = "body", limit: int = MAX_DEPTH) -> None:
    """Refuse a value nested more than ``limit`` containers deep (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children: Any
        if isinstance(value, Mapping):
            children = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth > limit:
            raise Rejected(f"{field} is nested more than {limit} levels deep", field=field)
        pending.extend((child, depth + 1) for child in children)
