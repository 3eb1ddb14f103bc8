"""Every `mlops` command line in the README's bash blocks (and in infra/monitoring/README.md)
is one the CLI accepts: the operator guide cannot drift from the parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from shared.ops.cli import parser

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
# `mlops ARGS` at the start of a line (after VAR=value prefixes) or inside $( ... ).
CALL = re.compile(r"(?:^|\$\()\s*(?:[A-Z_]+=\S+\s+)*(?:\.venv/bin/)?mlops\s+([^)#&\n]*)")


def commands() -> list[tuple[str, str]]:
    found = []
    for doc in (REPO / "README.md", REPO / "infra" / "monitoring" / "README.md"):
        for block in BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                found += [(doc.name, args.strip()) for args in CALL.findall(line)]
    return found


def test_the_readme_has_operator_commands() -> None:
    used = {shlex.split(args)[0] for _, args in commands()}
    assert {"audit", "explain", "status", "report", "serve", "upload", "token"} <= used


@pytest.mark.parametrize(("doc", "args"), commands())
def test_each_command_parses(doc: str, args: str) -> None:
    words = [re.sub(r"\$\{?\w+\}?", "x", word) for word in shlex.split(args)]
    try:
        parser().parse_args(words)
    except SystemExit as error:
        pytest.fail(f"{doc}: `mlops {args}` is refused by the parser (exit {error.code})")
