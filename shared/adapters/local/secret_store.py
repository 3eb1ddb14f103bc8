"""Secrets from the environment, then from a JSON file only its owner can read."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.ports import NotFound

# Key Vault secret names: letters, digits and dashes (underscore tolerated for env names).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,126}")


class EnvFileSecretStore:
    """``get("db-password")`` reads ``MLOPS_SECRET_DB_PASSWORD``, then key ``db-password`` of
    the file. Values never appear in exceptions or reprs, and are not cached."""

    def __init__(self, path: Path, env_prefix: str = "MLOPS_SECRET_") -> None:
        self.path = path
        self.env_prefix = env_prefix

    def __repr__(self) -> str:
        return f"EnvFileSecretStore(path={str(self.path)!r}, env_prefix={self.env_prefix!r})"

    def get(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("secret names are 1-127 letters, digits, '-' or '_'")
        from_env = os.environ.get(self.env_prefix + name.upper().replace("-", "_"))
        if from_env:
            return from_env
        value = self._file_secrets().get(name)
        if not isinstance(value, str) or not value:
            raise NotFound(f"secret {name!r} is not set")
        return value

    def ensure(self, name: str, make: Callable[[], str]) -> str:
        """``get(name)``, or store ``make()`` under ``name`` first (the audit chain key is
        created on first use). One lock for every process, so two first uses agree."""
        try:
            return self.get(name)
        except NotFound:
            pass
        with _locked(self.path.with_name(f".{self.path.name}.lock")):
            document = self._file_secrets()
            value = document.get(name)
            if isinstance(value, str) and value:
                return value
            document[name] = value = make()
            _write_private(self.path, json.dumps(document, indent=2) + "\n")
        return value

    def _file_secrets(self) -> dict[str, object]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(
                f"refusing to read secrets from {self.path}: permissions "
                f"{stat.filemode(mode)} let group or others in; run chmod 600 on it"
            )
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            # from None: the decode error carries the file's text, secrets included.
            raise ValueError(f"{self.path} is not a UTF-8 JSON object") from None
        if not isinstance(document, dict):
            raise ValueError(f"{self.path} is not a UTF-8 JSON object")
        return document


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes, held on an owner-only lock file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
        yield
    finally:
        os.close(fd)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file created 0600 (never briefly readable)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
