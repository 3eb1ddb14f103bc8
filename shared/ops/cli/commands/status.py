"""`mlops status`: endpoints, deployments, traffic, model versions, rollouts, pending
training, jobs, events and the audit chain, as tables (or ``--json``).

With ``--url`` it reads a running host's, or the Azure Function App's, manual API instead
(``GET {url}/api/endpoints`` with a bearer token from ``--token`` or ``MLOPS_TOKEN``): the
same command works against Azure, but shows only what the API returns.

``--json`` prints one document whose keys are stable (new ones may be added): the local
report documented in shared/ops/views/status.py, or with ``--url``::

    {"source": "api", "url": str, "endpoints": [GET /api/endpoints's items, as returned],
     "active_operations": [GET /api/operations/{id} of each endpoint's active rollout],
     "not_available": [what only the local backend shows]}
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from shared.ops.api_client import TOKEN_ENV, ApiError, active_operations, fetch_endpoints
from shared.ops.cli.errors import CommandError
from shared.ops.cli.options import settings_of
from shared.ops.render.tables import render, render_api, show, stdout_console

NOT_AVAILABLE = ["models", "recent_rollouts", "open_windows", "jobs", "events", "audit"]


def add_commands(commands: Any) -> None:
    """Add `status` to the `mlops` parser's subparsers."""
    status = commands.add_parser("status", help="endpoint, deployments, traffic, rollouts")
    status.add_argument("--json", action="store_true", help="one JSON document for scripts")
    status.add_argument("--url", help="read this host's or Function App's API instead")
    status.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV, ""),
        help=f"bearer token for --url (default: ${TOKEN_ENV}, which keeps it off ps)",
    )
    status.set_defaults(run=_status)


def _status(args: argparse.Namespace) -> int:
    if args.url:
        return _remote(args.url, args.token, as_json=args.json)
    from shared.adapters.local import backend as local_backend
    from shared.ops.views.status import status_report

    backend = local_backend.build(settings_of(args))
    try:
        report = status_report(backend)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        show(stdout_console(), lambda console: render(report, console))
    return 0


def _remote(url: str, token: str, *, as_json: bool) -> int:
    try:
        endpoints = fetch_endpoints(url, token)
    except ApiError as error:
        raise CommandError(str(error)) from None
    operations = active_operations(url, token, endpoints)
    if as_json:
        doc = {"source": "api", "url": url, "endpoints": endpoints}
        doc |= {"active_operations": operations, "not_available": NOT_AVAILABLE}
        print(json.dumps(doc, indent=2))
    else:
        show(stdout_console(), lambda console: render_api(endpoints, operations, console))
    return 0
