"""Stand-ins for `az` and `azd` that the azd hook scripts find on PATH.

Run as ``python fake_azure_cli.py az|azd ARGS...`` (the tests put a two-line wrapper named
``az`` and ``azd`` on PATH). State lives in the JSON file named by FAKE_AZURE_STATE:

- ``env``: the azd environment (``azd env get-value`` / ``azd env set``),
- ``lists``: one answer per ``az functionapp function list`` call, the last one repeating;
  an answer is a list of function names, or ``{"error": "..."}`` for a failing call,
- ``provision_exit``: the exit code of ``azd provision``,

and every call is appended to ``calls`` as its argv, so a test reads what ran, in order.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    path = Path(os.environ["FAKE_AZURE_STATE"])
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    state.setdefault("calls", []).append(argv)
    try:
        return answer(state, argv)
    finally:
        path.write_text(json.dumps(state), encoding="utf-8")


def answer(state: dict[str, Any], argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    env: dict[str, str] = state.setdefault("env", {})
    if tool == "azd" and args[:2] == ["env", "get-value"]:
        if args[2] not in env:
            # azd's own wording, on stdout: the hooks must not take it for a value.
            print(f"ERROR: key '{args[2]}' not found in the environment values")
            return 1
        print(env[args[2]])
        return 0
    if tool == "azd" and args[:2] == ["env", "set"]:
        env[args[2]] = args[3]
        return 0
    if tool == "azd" and args[:1] == ["provision"]:
        return int(state.get("provision_exit", 0))
    if tool == "az" and args[:3] == ["functionapp", "function", "list"]:
        lists: list[Any] = state["lists"]
        listed = lists.pop(0) if len(lists) > 1 else lists[0]
        if isinstance(listed, dict):
            print(listed["error"], file=sys.stderr)
            return 1
        print("\n".join(listed))
        return 0
    print(f"fake {tool}: unexpected call {args}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
