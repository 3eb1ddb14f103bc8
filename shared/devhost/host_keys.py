"""The local host's secrets: Functions host keys and the EasyAuth signing key, per MLOPS_HOME.

Generated on first use and written once, owner-only (0600, folder 0700). The keys file has the
shape ``az functionapp keys list`` prints: a master key, function keys, system keys.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTGRID_KEY = "eventgrid_extension"
DEFAULT_FUNCTION_KEY = "default"


@dataclass(frozen=True)
class HostKeys:
    master: str
    function_keys: dict[str, str]
    system_keys: dict[str, str]

    @property
    def eventgrid(self) -> str:
        return self.system_keys[EVENTGRID_KEY]

    def to_dict(self) -> dict[str, Any]:
        return {
            "masterKey": self.master,
            "functionKeys": dict(self.function_keys),
            "systemKeys": dict(self.system_keys),
        }


def host_dir(home: Path) -> Path:
    return home.resolve() / "host"


def keys_path(home: Path) -> Path:
    return host_dir(home) / "keys.json"


def signing_key_path(home: Path) -> Path:
    return host_dir(home) / "easyauth.json"


def load_keys(home: Path) -> HostKeys:
    """The host keys under ``home``, created on first use."""
    doc = _load_or_create(
        keys_path(home),
        lambda: {
            "masterKey": _new_key(),
            "functionKeys": {DEFAULT_FUNCTION_KEY: _new_key()},
            "systemKeys": {EVENTGRID_KEY: _new_key()},
        },
    )
    return HostKeys(
        master=str(doc["masterKey"]),
        function_keys={str(k): str(v) for k, v in doc["functionKeys"].items()},
        system_keys={str(k): str(v) for k, v in doc["systemKeys"].items()},
    )


def load_signing_key(home: Path) -> bytes:
    """The HS256 key EasyAuth verifies local bearer tokens with, created on first use."""
    doc = _load_or_create(signing_key_path(home), lambda: {"alg": "HS256", "key": _new_key(48)})
    return str(doc["key"]).encode()


def matches_any(presented: Iterable[str], accepted: Iterable[str]) -> bool:
    """Constant-time comparison of every presented key against every accepted one."""
    wanted = [key.encode() for key in accepted if key]
    found = False
    for candidate in presented:
        for key in wanted:
            found |= hmac.compare_digest(candidate.encode(), key)
    return found


def _new_key(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def _load_or_create(path: Path, make: Any) -> dict[str, Any]:
    if not path.exists():
        _create_private(path, json.dumps(make(), indent=2) + "\n")
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _create_private(path: Path, text: str) -> None:
    """Write a 0600 file unless it exists; two processes racing on first use end up reading
    the same file (write a private temp file, then link it into place, which never replaces)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
