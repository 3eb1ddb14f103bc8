"""MLOPS_HOME is the owner's alone: the folder and its folders 0700, every file 0600.

New files are private through the process umask (set before the local backend creates
anything, and inherited by its training jobs and inference servers); files an older version
left readable by group or others are fixed when the home is opened. ``secrets.json`` is the
exception: the secret store refuses a permissive one loudly instead of hiding that it was
readable.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
_REFUSED_NOT_FIXED = frozenset({"secrets.json"})
_opened: set[Path] = set()
_lock = threading.Lock()
log = logging.getLogger("mlops.local")


def private_home(home: Path) -> Path:
    """``home`` resolved, created 0700, with this process's umask owner-only and every
    entry already in it made owner-only (once per process and home)."""
    os.umask(os.umask(OWNER_ONLY_UMASK) | OWNER_ONLY_UMASK)
    home = home.resolve()
    with _lock:
        if home in _opened and home.is_dir():
            return home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        owner_only(home)
        for root, folders, files in os.walk(home):  # symlinks are not followed
            for name in (*folders, *files):
                if name not in _REFUSED_NOT_FIXED:
                    owner_only(Path(root, name))
        _opened.add(home)
    return home


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists; make it and SQLite's companion
    files (-wal, -shm, -journal, which SQLite creates with the database's mode) owner-only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # no O_TRUNC: never emptied
    for companion in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        owner_only(companion)


def owner_only(path: Path) -> None:
    """Take group and other permissions off ``path`` (a symlink itself is left alone)."""
    try:
        mode = path.lstat().st_mode
        if mode & OWNER_ONLY_UMASK and not stat.S_ISLNK(mode):
            path.chmod(stat.S_IMODE(mode) & ~OWNER_ONLY_UMASK)
    except FileNotFoundError:
        return
    except PermissionError:  # not ours (another user's file): say so, do not stop
        log.warning("cannot make %s owner-only: it belongs to another user", path)
