"""`mlops`: run the demo, read and verify the audit trail, inspect and drive the local backend,
serve the app locally as the Functions host would."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from shared.cli_host import add_commands as add_host_commands
from shared.logging_setup import configure_logging
from shared.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__)
    parser.add_argument("--home", type=Path, help="state folder (default: $MLOPS_HOME or .mlops)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the functions' work")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the whole story locally, no Azure account")
    demo.add_argument("--data", type=Path, help="your own label/text file (csv, tsv or jsonl)")
    demo.set_defaults(run=_demo)

    audit = commands.add_parser("audit", help="the audit trail as a table (or --json)")
    audit.add_argument("action", nargs="?", choices=["verify"], help="verify: recompute the chain")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.add_argument(
        "--since", type=datetime.fromisoformat, help="ISO time, e.g. 2026-11-26T10:00"
    )
    audit.add_argument(
        "--action", dest="action_prefix", default="", help="action prefix, e.g. rollout."
    )
    audit.add_argument("--target", default="", help="text the target contains")
    audit.add_argument("--correlation-id", default="", help="an event id or operation id")
    audit.add_argument("--limit", type=int, help="only the most recent N records")
    audit.set_defaults(run=_audit)

    status = commands.add_parser("status", help="endpoint, deployments, traffic, rollouts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)

    score = commands.add_parser("score", help="score messages through the local endpoint")
    score.add_argument("texts", nargs="+")
    score.add_argument("--deployment", help="one deployment directly instead of by traffic")
    score.set_defaults(run=_score)

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


def _audit(args: argparse.Namespace) -> int:
    from shared.adapters.local.audit_sink import SqliteAuditSink
    from shared.adapters.local.clock import SystemClock
    from shared.audit_view import table

    sink = SqliteAuditSink(_settings(args).home / "audit.db", SystemClock())
    if args.action == "verify":
        report = sink.verify()
        if args.json:
            print(json.dumps(report.__dict__))
        elif report.valid:
            print(f"audit chain valid: {report.records} records")
        else:
            print(f"audit chain BROKEN at seq {report.first_bad_seq}: {report.problem}")
        return 0 if report.valid else 1
    records = sink.records(
        since=args.since,
        limit=args.limit,
        action_prefix=args.action_prefix,
        target_contains=args.target,
        correlation_id=args.correlation_id,
    )
    if args.json:
        for record in records:
            print(json.dumps(record.to_dict()))
    else:
        print(table(records))
    return 0


def _status(args: argparse.Namespace) -> int:
    from shared.bootstrap import build_local
    from shared.status import status_report, status_text

    backend = build_local(_settings(args))
    try:
        report = status_report(backend)
    finally:
        backend.close()
    print(json.dumps(report, indent=2) if args.json else status_text(report))
    return 0


def _score(args: argparse.Namespace) -> int:
    from shared.bootstrap import build_local

    settings = _settings(args)
    backend = build_local(settings)
    try:
        answer = backend.platform.invoke(
            settings.endpoint_name, {"data": list(args.texts)}, deployment=args.deployment
        )
    finally:
        backend.close()
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
