"""How every `mlops` command fails: one line naming the problem, a hint, a non-zero code."""

from __future__ import annotations

import sys


class CommandError(Exception):
    """A problem the user can fix; ``main`` prints it as one line and exits ``code``."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def report_error(command: str, error: CommandError) -> int:
    hint = f" (hint: {error.hint})" if error.hint else ""
    print(f"mlops {command}: {error}{hint}", file=sys.stderr)
    return error.code
