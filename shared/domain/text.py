"""The one escaping function for text that came from outside and is about to be shown.

Event fields, blob names, registry tags, principal names, reasons and URL paths are stored
as received (the audit trail keeps the evidence) and neutralised only when a terminal or a
log line shows them: whatever they hold, they cannot move the cursor, clear the screen,
recolour the output, reverse the reading order, or start a line of their own.
"""

from __future__ import annotations

_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def neutralise(text: str) -> str:
    """``text`` on one line, every character that is not printable written as a Python-style
    escape (``\\x1b``, ``\\u202e``, ``\\n``) and the backslash itself doubled, so that
    distinct inputs stay distinct when shown.

    Not printable (``str.isprintable``) are the Unicode categories Other and Separator but
    the ASCII space: controls (C0, DEL, C1, so ESC and every ANSI sequence's introducer),
    format characters (bidi overrides and isolates, zero-width characters, the BOM, tag
    characters), surrogates, private-use and unassigned code points, line and paragraph
    separators, and spaces that only look like a space."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case, without a walk per character
    return "".join(_shown(char) for char in text)


def _shown(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
