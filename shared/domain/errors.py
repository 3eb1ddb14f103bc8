"""Errors that carry a decision, not a crash."""

from __future__ import annotations


class Rejected(ValueError):
    """Bad input: audit it, acknowledge the delivery, never retry. The message names the
    problem and never echoes a secret or an unbounded slice of the payload."""

    def __init__(self, reason: str, *, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
