"""`mlops report`: the audit trail and the local backend's status as one self-contained
HTML page (charts as inline SVG, no script, nothing fetched)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.domain.audit import AuditRecord, ChainReport
from shared.ops.cli.errors import CommandError
from shared.ops.cli.options import settings_of
from shared.ops.cli.timespec import HELP as TIME_HELP
from shared.ops.cli.timespec import BadTime, parse_when

if TYPE_CHECKING:
    from shared.adapters.local.backend import LocalBackend

HINT = "run `mlops demo` first, or pass the --home that holds your state"


def add_commands(commands: Any) -> None:
    """Add `report` to the `mlops` parser's subparsers."""
    report = commands.add_parser("report", help="a self-contained HTML report with charts")
    report.add_argument(
        "--output",
        type=Path,
        default=Path("report.html"),
        help="where to write it (default: report.html in the current folder)",
    )
    report.add_argument("--since", help=f"only records from this time; {TIME_HELP}")
    report.add_argument(
        "--records", type=Path, help="an export of Azure's trail instead of --home (no status)"
    )
    report.add_argument("--key-file", type=Path, help="with --records: the audit chain key (hex)")
    report.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    from shared.adapters.local import backend as local_backend
    from shared.ops.cli.commands.audit import existing_trail

    since = _since(args.since)
    if args.records:
        return _write(args.output, *_exported(args.records, since, args))
    settings = settings_of(args)
    home = existing_trail(settings).parent  # checked first: build_local would create the home
    backend = local_backend.build(settings)
    try:
        chain = backend.audit.verify()
        if chain.records == 0:
            raise CommandError(f"the audit trail under {home} is empty", HINT)
        records = backend.audit.records(since=since)
        status = _status(backend, chain)
    finally:
        backend.close()
    return _write(args.output, records, status, chain)


def _exported(
    path: Path, since: datetime | None, args: argparse.Namespace
) -> tuple[list[AuditRecord], None, ChainReport]:
    """Azure's trail as exported from Log Analytics: its chain is the export's own links,
    with their keyed hashes checked when the key is given (see `mlops audit verify`)."""
    from shared.ops.cli.commands.audit import export_key, read_export
    from shared.ops.views.trail_export import verify_export

    records = read_export(path)
    if not records:
        raise CommandError(f"{path} holds no audit records", "widen the export's --timespan")
    chosen = [r for r in records if since is None or datetime.fromisoformat(r.time) >= since]
    return chosen, None, verify_export(records, export_key(args.home, args.key_file))


def _write(
    output: Path,
    records: Sequence[AuditRecord],
    status: dict[str, Any] | None,
    chain: ChainReport,
) -> int:
    from shared.ops.render.report import build_report

    html = build_report(records, status, chain, datetime.now(UTC))
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot write {output}: {error.strerror or error}") from None
    print(output.resolve())
    return 0


def _since(text: str | None) -> datetime | None:
    try:
        return parse_when(text) if text else None
    except BadTime as error:
        raise CommandError(str(error), code=2) from None


def _status(backend: LocalBackend, chain: ChainReport) -> dict[str, Any] | None:
    """Status is the header's extra: a backend that cannot report it still gets the
    audit charts, and the page says the status is unavailable."""
    from shared.ops.views.status import status_report

    try:
        return status_report(backend, chain)
    except Exception as error:  # any adapter failure; the audit trail is what matters here
        print(f"mlops report: status unavailable ({error}); charts only", file=sys.stderr)
        return None
