"""`mlops explain`: the whole story of one event or operation, from the local trail under
--home or an export of Azure's (`--records FILE`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shared.ops.cli.commands.audit import local_sink, read_export
from shared.ops.cli.errors import CommandError, ExitStatus


def add_commands(commands: Any) -> None:
    explain = commands.add_parser("explain", help="the whole story of one event or operation")
    explain.add_argument("id", help="correlation id (or 6+ char prefix), job, model@version")
    explain.add_argument("--json", action="store_true")
    explain.add_argument("--records", type=Path, help="read an exported trail instead of --home")
    explain.set_defaults(run=_explain)


def _explain(args: argparse.Namespace) -> int:
    from shared.ops.render.text import story_text
    from shared.ops.views.story import AmbiguousId, StoryNotFound, explain

    try:
        if args.records:
            story = explain(read_export(args.records), args.id)
        else:
            with local_sink(args) as sink:
                story = explain(sink.trail(), args.id)  # through the indexes: one story
    except AmbiguousId as error:
        raise CommandError(str(error), "give more of the id") from None
    except StoryNotFound as error:
        raise CommandError(str(error), "list ids with `mlops audit --since 1h`") from None
    print(json.dumps(story.to_dict(), indent=2) if args.json else story_text(story))
    return ExitStatus.OK
