"""`mlops audit`: read, filter, follow and verify the audit trail. It reads the local trail
under --home, or an export of Azure's (`--records FILE`, from `az monitor log-analytics query`).

`verify` checks the keyed chain: locally with the home's key and anchor; for an export with
the key from --key-file (or MLOPS_SECRET_AUDIT_CHAIN_KEY, or the home's secret store) and the
head row from --anchor. What it could not check is said, and without a key it never says
"valid"."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.domain.audit import OUTCOMES, AuditRecord, ChainKey, ChainReport
from shared.domain.text import neutralise
from shared.ops.cli.errors import CommandError, ExitStatus
from shared.ops.cli.options import settings_of
from shared.ops.cli.timespec import HELP as TIME_HELP
from shared.ops.cli.timespec import BadTime, parse_duration, parse_when
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.local.audit_sink import SqliteAuditSink

FOLLOW_INTERVAL = 1.0


def add_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the audit trail: filter, follow, verify")
    audit.add_argument("action", nargs="?", choices=["verify"], help="verify: recompute the chain")
    out = audit.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="a JSON array (lines with --follow)")
    out.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    audit.add_argument("--since", help=f"from this time; {TIME_HELP}")
    audit.add_argument("--until", help="up to (not including) this time")
    audit.add_argument("--around", help="within --window either side of this time, e.g. 10:02")
    audit.add_argument("--window", default="5m", help="half-width for --around (default 5m)")
    audit.add_argument("--action", dest="action_prefix", default="", help="prefix: rollout.")
    audit.add_argument("--outcome", action="append", choices=OUTCOMES, help="repeatable")
    audit.add_argument("--actor", default="", help="text the actor or principal id contains")
    audit.add_argument("--target", default="", help="text the target contains")
    audit.add_argument("--correlation-id", default="", help="an event id or operation id")
    audit.add_argument("--limit", type=int, help="only the most recent N records")
    audit.add_argument("--follow", "-f", action="store_true", help="keep printing new records")
    audit.add_argument("--records", type=Path, help="read an exported trail instead of --home")
    audit.add_argument(
        "--key-file",
        type=Path,
        help="verify --records: the chain key as hex (Key Vault secret audit-chain-key)",
    )
    audit.add_argument(
        "--anchor",
        type=Path,
        help="verify --records: the chain head row as JSON (az storage entity show ... -o json)",
    )
    audit.set_defaults(run=_audit)


@dataclass(frozen=True)
class _Filters:
    since: datetime | None
    until: datetime | None
    action_prefix: str
    outcomes: tuple[str, ...]
    actor: str
    target: str
    correlation_id: str

    def keyword_args(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "action_prefix": self.action_prefix,
            "outcomes": self.outcomes,
            "actor_contains": self.actor,
            "target_contains": self.target,
            "correlation_id": self.correlation_id,
        }

    def match(self, record: AuditRecord) -> bool:
        moment = datetime.fromisoformat(record.time)
        return (
            (self.since is None or moment >= self.since)
            and (self.until is None or moment < self.until)
            and record.action.startswith(self.action_prefix)
            and (not self.outcomes or record.outcome in self.outcomes)
            and self.actor in record.actor
            and self.target in record.target
            and (not self.correlation_id or record.correlation_id == self.correlation_id)
        )


def _filters(args: argparse.Namespace) -> _Filters:
    try:
        since = parse_when(args.since) if args.since else None
        until = parse_when(args.until) if args.until else None
        if args.around:
            if since or until:
                raise CommandError("--around replaces --since and --until", code=2)
            at, half = parse_when(args.around), parse_duration(args.window)
            # Both ends included: `--around 10:02 --window 1m` shows 10:01 to 10:03.
            since, until = at - half, at + half + timedelta(microseconds=1)
    except BadTime as error:
        raise CommandError(str(error), code=ExitStatus.USAGE) from None
    if since and until and since >= until:
        raise CommandError(f"--since {since:%H:%M:%S} is not before --until {until:%H:%M:%S}")
    return _Filters(
        since,
        until,
        args.action_prefix,
        tuple(args.outcome or ()),
        args.actor,
        args.target,
        args.correlation_id,
    )


def _audit(args: argparse.Namespace) -> int:
    if args.action == "verify":
        return _verify(args)
    filters = _filters(args)
    if args.records:
        records = [r for r in read_export(args.records) if filters.match(r)]
        records = records[-args.limit :] if args.limit else records
    else:
        with local_sink(args) as sink:
            records = sink.records(limit=args.limit, **filters.keyword_args())
            if args.follow:
                # With nothing matching yet, follow from the end of the trail, not its start.
                newest = records or sink.records(limit=1)
                start = newest[-1].seq if newest else 0
                return _follow(
                    args,
                    records,
                    start,
                    lambda after: sink.records(after_seq=after, **filters.keyword_args()),
                )
    _print(args, records)
    return 0


def _follow(
    args: argparse.Namespace,
    first: list[AuditRecord],
    last: int,
    newer: Callable[[int], list[AuditRecord]],
) -> int:
    """Print what matches now, then each record appended after seq ``last``, until Ctrl-C."""
    from shared.ops.render.text import header, row

    if not (args.json or args.jsonl):
        print(header(), flush=True)
    batch = first
    try:
        while True:
            for record in batch:
                text = json.dumps(record.to_dict()) if args.json or args.jsonl else row(record)
                print(text, flush=True)
                last = record.seq
            time.sleep(FOLLOW_INTERVAL)
            batch = newer(last)
    except KeyboardInterrupt:
        return 0


def _verify(args: argparse.Namespace) -> int:
    if args.records:
        from shared.ops.views.trail_export import verify_export

        records = read_export(args.records)
        anchor = _export_file(args.anchor, "load_anchor") if args.anchor else None
        key = export_key(args.home, args.key_file)
        report, scope = verify_export(records, key, anchor), f"{args.records}"
    else:
        if args.key_file or args.anchor:
            raise CommandError("--key-file and --anchor go with --records", code=2)
        with local_sink(args) as sink:
            report, scope = sink.verify(), "local trail"
    if args.json or args.jsonl:
        print(json.dumps(report.__dict__))
    else:  # a problem may quote a record's field: each line neutralised on its own
        print("\n".join(neutralise(line) for line in _verdict(report, scope)))
    return ExitStatus.OK if report.valid else ExitStatus.FAILED


def _verdict(report: ChainReport, scope: str) -> list[str]:
    notes = [f"  not checked: {note}" for note in report.unchecked]
    if report.valid:
        return [f"audit chain valid: {report.records} records ({scope})", *notes]
    if report.first_bad_seq is None:
        return [
            f"audit chain NOT VERIFIED: {report.records} records, seqs and links intact ({scope})",
            *notes,
            "  hint: pass --key-file FILE with the chain key (the Key Vault secret "
            "audit-chain-key), or set MLOPS_SECRET_AUDIT_CHAIN_KEY",
        ]
    return [
        f"audit chain BROKEN at seq {report.first_bad_seq}: {report.problem} ({scope}); "
        f"records from seq {report.first_bad_seq} on cannot be trusted: compare them with "
        "the copy in Log Analytics"
    ]


def export_key(home: Path | None, key_file: Path | None) -> ChainKey | None:
    """The key an export is verified with: --key-file, else the home's secret store (its
    MLOPS_SECRET_AUDIT_CHAIN_KEY variable, or the key it created), else none. Never creates
    a key, nor a home."""
    from shared.adapters.local.secret_store import EnvFileSecretStore
    from shared.ports import NotFound

    if key_file:
        loaded: ChainKey = _export_file(key_file, "load_key")
        return loaded
    settings = Settings(home=home) if home else Settings()
    store = EnvFileSecretStore(settings.home.resolve() / "secrets.json")
    try:
        return ChainKey.from_text(store.get(settings.audit_key_secret))
    except NotFound:
        return None
    except ValueError as error:
        raise CommandError(str(error), "the key is 64 or more hex digits") from None


def _export_file(path: Path, loader: str) -> Any:
    import shared.ops.views.trail_export as export

    try:
        return getattr(export, loader)(path)
    except export.BadExport as error:
        raise CommandError(str(error), code=ExitStatus.USAGE) from None


def _print(args: argparse.Namespace, records: list[AuditRecord]) -> None:
    from shared.ops.render.text import table

    if args.json:
        print(json.dumps([record.to_dict() for record in records], indent=1))
    elif args.jsonl:
        for record in records:
            print(json.dumps(record.to_dict()))
    else:
        print(table(records))


def read_export(path: Path) -> list[AuditRecord]:
    """An export of Azure's trail (--records), or a one-line error with a hint."""
    from shared.ops.views.trail_export import BadExport, load_export

    try:
        return load_export(path)
    except BadExport as error:
        hint = "export with `az monitor log-analytics query ... -o json > FILE`"
        raise CommandError(str(error), hint) from None


@contextmanager
def local_sink(args: argparse.Namespace) -> Iterator[SqliteAuditSink]:
    """The local trail, refusing a home that has none instead of creating an empty one."""
    from shared.adapters.clock import SystemClock
    from shared.adapters.local.backend import local_audit_sink

    settings = settings_of(args)
    existing_trail(settings)
    sink = local_audit_sink(settings, SystemClock())
    try:
        yield sink
    finally:
        sink.close()


def existing_trail(settings: Settings) -> Path:
    """The local trail's file; refused when absent, so that reading never creates a home."""
    from shared.adapters.local.backend import local_audit_path

    path = local_audit_path(settings)
    if not path.is_file():
        raise CommandError(
            f"no audit trail at {path}",
            "run `mlops demo` or `mlops serve` first, or pass --home / set MLOPS_HOME",
        )
    return path
