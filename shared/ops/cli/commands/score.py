"""`mlops score`: score messages through the local endpoint, by traffic or one deployment."""

from __future__ import annotations

import argparse
import json
from typing import Any

from shared.ops.cli.errors import ExitStatus
from shared.ops.cli.options import settings_of


def add_commands(commands: Any) -> None:
    score = commands.add_parser("score", help="score messages through the local endpoint")
    score.add_argument("texts", nargs="+")
    score.add_argument("--deployment", help="one deployment directly instead of by traffic")
    score.set_defaults(run=_score)


def _score(args: argparse.Namespace) -> int:
    from shared.adapters.local import backend as local_backend
    from shared.ops.cli.progress import for_stream

    settings = settings_of(args)
    backend = local_backend.build(settings)
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
    return ExitStatus.OK
