"""How every `mlops` command fails: one line naming the problem, a hint, a non-zero code.
Known failures become that line; anything else too, unless --verbose asks for the traceback."""

from __future__ import annotations

import sys
from enum import IntEnum

from pydantic import ValidationError

from shared.domain.text import neutralise
from shared.ports import NotFound, TransientError


class ExitStatus(IntEnum):
    """What `mlops` exits with; scripts may rely on these."""

    OK = 0
    FAILED = 1  # the command ran and found a problem: an invalid chain, a refused delivery
    USAGE = 2  # bad arguments, settings or input files
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class CommandError(Exception):
    """A problem the user can fix; ``main`` prints it as one line and exits ``code``."""

    def __init__(self, message: str, hint: str = "", code: int = ExitStatus.FAILED) -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


def report_error(command: str, error: CommandError) -> int:
    # A message may quote what came from outside (an id from the trail, a server's answer).
    hint = f" (hint: {neutralise(error.hint)})" if error.hint else ""
    print(f"mlops {command}: {neutralise(str(error))}{hint}", file=sys.stderr)
    return error.code


def as_command_error(error: Exception) -> CommandError:
    """The one line for an exception a command did not handle itself."""
    if isinstance(error, ValidationError):
        return _bad_settings(error)
    if isinstance(error, NotFound):
        return CommandError(
            str(error), "run `mlops demo`, or `mlops serve` and upload data, to create it"
        )
    if isinstance(error, TransientError):
        return CommandError(str(error), "it may pass if you run the command again")
    if isinstance(error, OSError) and error.filename:
        return CommandError(f"{error.strerror}: {error.filename}", "check the path and --home")
    return CommandError(
        f"unexpected {type(error).__name__}: {error}", "run again with -v for the traceback"
    )


def _bad_settings(error: ValidationError) -> CommandError:
    from shared.settings import Settings

    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    field = Settings.model_fields.get(name)
    prefix = Settings.model_config.get("env_prefix", "")
    setting = (field.alias if field and field.alias else f"{prefix}{name}".upper()) if name else ""
    message = first["msg"].removeprefix("Value error, ")
    return CommandError(
        f"bad setting {setting}: {message}" if setting else f"bad settings: {message}",
        "see local.settings.example.json for every MLOPS_* setting",
        code=ExitStatus.USAGE,
    )
