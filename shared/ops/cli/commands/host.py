"""The `mlops` commands around the local Functions host: serve, keys, token, upload,
send-event. Heavy modules are imported by the command that needs them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.ops.cli.errors import CommandError
from shared.ops.cli.options import settings_of

READY = "mlops host listening on "
_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".jsonl": "application/jsonl",
}


def add_commands(commands: Any) -> None:
    """Add the host's subcommands to the `mlops` parser's subparsers."""
    from shared.devhost.webhook_client import DEFAULT_URL

    serve = commands.add_parser("serve", help="the local Functions host (HTTP API, Event Grid)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    serve.add_argument(
        "--reconcile-every",
        type=float,
        metavar="SECONDS",
        help="run the timer functions at this interval instead of their NCRONTAB schedule",
    )
    serve.set_defaults(run=_serve)

    keys = commands.add_parser("keys", help="the local host's function, master and system keys")
    keys.add_argument("--json", action="store_true")
    keys.set_defaults(run=_keys)

    token = commands.add_parser("token", help="a bearer token the local EasyAuth accepts")
    token.add_argument("--name", required=True, help="the principal's display name")
    token.add_argument("--roles", default="", help="app roles, comma separated")
    token.add_argument("--oid", help="object id (default: a stable uuid5 of the name)")
    token.add_argument("--minutes", type=float, default=60.0, help="lifetime (default 60)")
    token.set_defaults(run=_token)

    upload = commands.add_parser("upload", help="put a file in the training container and notify")
    upload.add_argument("file", type=Path)
    upload.add_argument("--prefix", default="", help="dataset folder, e.g. spam/")
    upload.add_argument("--url", default=DEFAULT_URL, help="the running host")
    upload.add_argument("--json", action="store_true")
    upload.set_defaults(run=_upload, label="upload")

    send = commands.add_parser("send-event", help="deliver an event file to the running host")
    send.add_argument("file", type=Path, help="Event Grid event(s) or CloudEvent(s), JSON")
    send.add_argument("--function", help="default: chosen by infra/event-routing.json")
    send.add_argument("--url", default=DEFAULT_URL, help="the running host")
    send.add_argument("--json", action="store_true")
    send.set_defaults(run=_send_event, label="send-event")


def _serve(args: argparse.Namespace) -> int:
    from shared.devhost.serve import HostOptions, ServeError, serve

    if args.reconcile_every is not None and args.reconcile_every <= 0:
        raise CommandError("--reconcile-every must be positive", code=2)
    options = HostOptions(host=args.host, port=args.port, reconcile_every=args.reconcile_every)
    try:
        serve(settings_of(args), options, lambda url: print(f"{READY}{url}", flush=True))
    except ServeError as error:
        raise CommandError(str(error), error.hint) from None
    print("mlops host stopped", flush=True)
    return 0


def _keys(args: argparse.Namespace) -> int:
    from shared.devhost.host_keys import load_keys

    keys = load_keys(settings_of(args).home).to_dict()
    if args.json:
        print(json.dumps(keys, indent=2))
        return 0
    print(f"masterKey                        {keys['masterKey']}")
    for group in ("functionKeys", "systemKeys"):
        for name, value in keys[group].items():
            print(f"{f'{group}.{name}':<33}{value}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from shared.devhost.easyauth import EasyAuth
    from shared.devhost.host_keys import load_signing_key

    if args.minutes <= 0:
        raise CommandError("--minutes must be positive", code=2)
    roles = [role.strip() for role in args.roles.split(",") if role.strip()]
    auth = EasyAuth(load_signing_key(settings_of(args).home))
    print(auth.issue(args.name, roles, oid=args.oid, minutes=args.minutes))
    return 0


def _upload(args: argparse.Namespace) -> int:
    from shared.adapters.local import system_events as topics
    from shared.adapters.local.backend import local_blob_store, local_topic

    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}", code=2)
    settings = settings_of(args)
    prefix = args.prefix.strip("/")
    blob_path = f"{prefix}/{args.file.name}" if prefix else args.file.name
    blobs = local_blob_store(settings)
    content_type = _CONTENT_TYPES.get(args.file.suffix.lower(), "application/octet-stream")
    try:
        props = blobs.upload(blob_path, args.file.read_bytes(), content_type)
    except ValueError as error:  # a prefix that climbs out of the container
        raise CommandError(str(error), "use a folder inside the container, e.g. spam/", 2) from None
    storage = local_topic(settings, "Microsoft.Storage/storageAccounts")
    event = topics.blob_created(storage, props)
    return _deliver(args, [event], {"blob": props.url, "size": props.size, "etag": props.etag})


def _send_event(args: argparse.Namespace) -> int:
    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read {args.file}: {error}", code=2) from None
    events = doc if isinstance(doc, list) else [doc]
    if not events or not all(isinstance(event, dict) for event in events):
        raise CommandError(
            f"{args.file} holds no event objects", "give an event, a CloudEvent, or a list", 2
        )
    return _deliver(args, events, {})


def _deliver(args: argparse.Namespace, events: list[Any], extra: dict[str, Any]) -> int:
    from shared.adapters.local.event_grid import load_routing
    from shared.devhost.host_keys import load_keys
    from shared.devhost.webhook_client import DeliveryFailed, by_function, deliver

    command = f"mlops {args.label}"
    key = load_keys(settings_of(args).home).eventgrid
    try:
        function = getattr(args, "function", None)
        batches = {function: events} if function else by_function(events, load_routing())
        deliveries = [deliver(args.url, name, batch, key) for name, batch in batches.items()]
    except DeliveryFailed as error:
        raise CommandError(str(error), "is `mlops serve` running there? (see --url)") from None
    if args.json:
        print(json.dumps({**extra, "deliveries": [d.to_dict() for d in deliveries]}, indent=2))
    else:
        for done in deliveries:
            ids = ", ".join(done.event_ids)
            print(f"{done.function} <- {len(done.event_ids)} event(s) [{ids}]: {done.status}")
    failed = [d for d in deliveries if not d.ok]
    for done in failed:
        print(
            f"{command}: {done.function} answered {done.status}: {done.answer[:200]}",
            file=sys.stderr,
        )
    return 1 if failed else 0
