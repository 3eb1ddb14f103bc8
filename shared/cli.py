"""`mlops`: run the demo, read and verify the audit trail, inspect and drive the local backend,
serve the app locally as the Functions host would."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.cli_audit import add_commands as add_audit_commands
from shared.cli_errors import CommandError, as_command_error, report_error
from shared.cli_host import add_commands as add_host_commands
from shared.cli_report import add_commands as add_report_commands
from shared.cli_status import add_commands as add_status_commands
from shared.logging_setup import configure_logging
from shared.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    try:
        code: int = args.run(args)
    except CommandError as error:
        return report_error(args.command, error)
    except KeyboardInterrupt:
        return 130
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

    demo = commands.add_parser("demo", help="run the whole story locally, no Azure account")
    demo.add_argument("--data", type=Path, help="your own label/text file (csv, tsv or jsonl)")
    demo.set_defaults(run=_demo)

    add_audit_commands(commands)

    score = commands.add_parser("score", help="score messages through the local endpoint")
    score.add_argument("texts", nargs="+")
    score.add_argument("--deployment", help="one deployment directly instead of by traffic")
    score.set_defaults(run=_score)

    add_status_commands(commands)
    add_report_commands(commands)
    add_host_commands(commands)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(home=args.home) if args.home else Settings()


def _demo(args: argparse.Namespace) -> int:
    from shared.demo import DemoError, run_demo

    settings = _settings(args)
    try:
        report = run_demo(settings.home, args.data)
    except DemoError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    return 0 if report["audit_chain_valid"] else 1


def _score(args: argparse.Namespace) -> int:
    from shared.bootstrap import build_local
    from shared.progress import for_stream

    settings = _settings(args)
    backend = build_local(settings)
    # A stopped local deployment restarts on the first request: that can take a while.
    try:
        backend.platform.get_endpoint(settings.endpoint_name)  # a missing one fails at once
        with for_stream().step(f"scoring through {settings.endpoint_name}"):
            answer = backend.platform.invoke(
                settings.endpoint_name, {"data": list(args.texts)}, deployment=args.deployment
            )
    finally:
        backend.close()
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
