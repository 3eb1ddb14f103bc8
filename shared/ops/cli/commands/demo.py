"""`mlops demo`: the whole story on the local backend, no Azure account."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shared.ops.cli.errors import ExitStatus
from shared.ops.cli.options import settings_of


def add_commands(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run the whole story locally, no Azure account")
    demo.add_argument("--data", type=Path, help="your own label/text file (csv, tsv or jsonl)")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    from shared.ops.demo.story import DemoError, run_demo

    settings = settings_of(args)
    try:
        report = run_demo(settings.home, args.data)
    except DemoError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return ExitStatus.FAILED
    return ExitStatus.OK if report["audit_chain_valid"] else ExitStatus.FAILED
