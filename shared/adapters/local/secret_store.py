"""Secrets from the environment, then from a JSON file only its owner can read."""

from __future__ import annotations

import json
import os
import re
import stat
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
