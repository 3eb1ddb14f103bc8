"""Stand-ins for `az` and `azd` that the azd hook scripts find on PATH.

Run as ``python fake_azure_cli.py az|azd ARGS...`` (the tests put a two-line wrapper named
``az`` and ``azd`` on PATH). State lives in the JSON file named by FAKE_AZURE_STATE:

- ``env``: the azd environment (``azd env get-value`` / ``azd env set``),
- ``lists``: one answer per ``az functionapp function list`` call, the last one repeating;
  an answer is a list of function names, or ``{"error": "..."}`` for a failing call,
- ``provision_exit``: the exit code of ``azd provision``,
- ``vault``: the Key Vault the hooks see, ``{"name", "secrets": {name: {"value", "tags",
  "description", "file_mode"}}, "deleted": [names]}``, for ``az keyvault secret show`` and
  ``set`` (``set --file F --encoding hex`` stores F's bytes as hex, as the CLI does),
- ``kv_errors``: ``{"show": [...], "set": [...]}``, error texts the next calls fail with (one
  per call) before the vault answers for real,

and every call is appended to ``calls`` as its argv, so a test reads what ran, in order.
"""

from __future__ import annotations

import json
import os
import stat
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
    if tool == "az" and args[:2] == ["keyvault", "secret"] and args[2] in ("show", "set"):
        return keyvault_secret(state, args[2], options(args[3:]))
    print(f"fake {tool}: unexpected call {args}", file=sys.stderr)
    return 2


def options(args: list[str]) -> dict[str, str]:
    pairs = zip(args[::2], args[1::2], strict=True)
    return {name: value for name, value in pairs}


def keyvault_secret(state: dict[str, Any], verb: str, opts: dict[str, str]) -> int:
    """``az keyvault secret show|set``, answered as the CLI prints Key Vault's answers."""
    queued: list[str] = state.setdefault("kv_errors", {}).setdefault(verb, [])
    if queued:
        print(queued.pop(0), file=sys.stderr)
        return 1
    vault: dict[str, Any] = state["vault"]
    name, secrets = opts["--name"], vault.setdefault("secrets", {})
    if opts["--vault-name"] != vault["name"]:
        print(f"ERROR: The Vault '{opts['--vault-name']}' not found.", file=sys.stderr)
        return 1
    if verb == "show":
        if name not in secrets:
            print(NOT_FOUND.format(name=name), file=sys.stderr)
            return 1
        assert opts.get("--query") == "id", "the hooks never ask for the value"
        print(f"https://{vault['name']}.vault.azure.net/secrets/{name}/0123456789abcdef")
        return 0
    if name in vault.get("deleted", []):
        print(DELETED.format(name=name), file=sys.stderr)
        return 1
    assert "--value" not in opts, "a secret value on the command line"
    assert opts["--encoding"] == "hex"
    path = Path(opts["--file"])
    secrets[name] = {
        "value": path.read_bytes().hex(),  # binascii.b2a_hex, as the CLI's validator does
        "tags": {"file-encoding": opts["--encoding"]},
        "description": opts.get("--description", ""),
        "file_mode": stat.S_IMODE(path.stat().st_mode),
        "file": str(path),
    }
    print(f"https://{vault['name']}.vault.azure.net/secrets/{name}/fedcba9876543210")
    return 0


# Key Vault's answers as `az` prints them (codes and messages from the service).
NOT_FOUND = (
    "ERROR: (SecretNotFound) A secret with (name/id) {name} was not found in this key vault. "
    "If you recently deleted this secret you may be able to recover it using the correct "
    "recovery command.\nCode: SecretNotFound"
)
DELETED = (
    "ERROR: (Conflict) Secret {name} is currently in a deleted but recoverable state, and its "
    "name cannot be reused; in this state, the secret can only be recovered or purged.\n"
    'Code: Conflict\nInner error: {{\n    "code": "ObjectIsDeletedButRecoverable"\n}}'
)
FORBIDDEN = (
    "ERROR: (Forbidden) Caller is not authorized to perform action on resource.\n"
    "If role assignments, deny assignments or role definitions were changed recently, please "
    "observe propagation time.\nAction: 'Microsoft.KeyVault/vaults/secrets/{action}'\n"
    'Code: Forbidden\nInner error: {{\n    "code": "ForbiddenByRbac"\n}}'
)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
