"""`mlops`: run the demo, read and verify the audit trail, inspect and drive the local backend,
serve the app locally as the Functions host would."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from shared.logging_setup import configure_logging
from shared.ops.cli.commands import audit, demo, explain, host, report, score, status
from shared.ops.cli.errors import CommandError, ExitStatus, as_command_error, report_error

__all__ = ["ExitStatus", "main", "parser"]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    try:
        code: int = args.run(args)
    except CommandError as error:
        return report_error(args.command, error)
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except Exception as error:
        if args.verbose:
            raise
        return report_error(args.command, as_command_error(error))
    return code


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__)
    parser.add_argument("--home", type=Path, help="state folder (default: $MLOPS_HOME or .mlops)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the functions' work")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    for command in (demo, audit, explain, score, status, report, host):
        command.add_commands(commands)

    return parser
