"""MLOPS_HOME is the owner's alone (issue 12, section 7): after a real local run (the host
serving, an upload through the CLI, a training job, the CLI reading back) every folder in
the home is 0700 and every file 0600, and a home an older version left readable is made
private when it is opened; a readable secrets file is refused, not quietly fixed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.adapters.local.state_store import SqliteStateStore
from shared.adapters.project_files import REPO_ROOT
from shared.ops.demo.data import generate, write_tsv
from tests.integration.host.hostproc import start_host

MLOPS = Path(sys.executable).parent / "mlops"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes(home: Path) -> dict[Path, int]:
    """Every folder and file under ``home`` (and itself), symlinks aside."""
    found = {home: mode(home)}
    for root, folders, files in os.walk(home):
        for name in (*folders, *files):
            path = Path(root, name)
            if not path.is_symlink():
                found[path] = mode(path)
    return found


def mlops(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MLOPS), "--home", str(home), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MLOPS_HOME": str(home)},
    )


@contextmanager
def umask(value: int) -> Iterator[None]:
    """A permissive umask, as a user's shell usually has (and as pytest may not)."""
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.slow
def test_a_host_run_leaves_nothing_for_group_or_others(tmp_path: Path) -> None:
    home, data = tmp_path / "home", write_tsv(tmp_path / "sms.tsv", generate(400, seed=7))
    with umask(0o022):  # the harness creates the home and its log as a shell would: 0755
        host = start_host(home, "--reconcile-every", "1", env={"MLOPS_COALESCE_QUIET_SECONDS": "0"})
    try:
        upload = mlops(home, "upload", str(data), "--prefix", "spam/", "--url", host.url)
        assert upload.returncode == 0, upload.stderr
        host.wait_for_audit("training.completed", timeout=300)
    finally:
        host.stop()
    for command in (("audit", "verify"), ("status", "--json"), ("keys", "--json")):
        assert mlops(home, *command).returncode == 0, command

    found = modes(home)
    loose = {
        str(path.relative_to(tmp_path)): oct(bits) for path, bits in found.items() if bits & 0o077
    }
    assert not loose, loose
    assert found[home] == 0o700
    assert all(bits == 0o700 for path, bits in found.items() if path.is_dir())
    files = {p.relative_to(home).as_posix(): bits for p, bits in found.items() if p.is_file()}
    assert {"audit.db", "state.db", "eventgrid.db", "secrets.json", "host/keys.json"} <= set(files)
    assert any(name.startswith("blobs/") for name in files)  # the uploaded training data
    assert len(files) > 20  # the training job's outputs and the model registry too
    assert all(bits == 0o600 for bits in files.values()), {n: oct(b) for n, b in files.items()}


def test_a_permissive_home_is_made_private_when_opened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with umask(0o022):  # what an earlier version left behind
        (home / "blobs" / "training-data" / "spam").mkdir(parents=True)
        (home / "blobs" / "training-data" / "spam" / "a.csv").write_text("label,text\n")
        SqliteStateStore(home / "state.db").put("window", "w", {"n": 1}, etag=None)
        (home / "notes.txt").write_text("mine")
        (home / "notes.txt").chmod(0o666)
        home.chmod(0o755)
    assert mode(home / "state.db") == 0o600  # opened once already: fixed on that open
    (home / "state.db").chmod(0o644)
    run = mlops(home, "status", "--json")
    assert run.returncode == 0, run.stderr
    assert {path: bits for path, bits in modes(home).items() if bits & 0o077} == {}
    assert mode(home) == 0o700 and mode(home / "notes.txt") == 0o600
    assert mode(home / "blobs" / "training-data" / "spam" / "a.csv") == 0o600


def test_a_readable_secrets_file_is_refused_not_fixed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    secrets = home / "secrets.json"
    secrets.write_text(json.dumps({"audit-chain-key": "ab" * 32}))
    secrets.chmod(0o644)
    run = mlops(home, "status", "--json")
    assert run.returncode != 0
    assert "chmod 600" in run.stderr and "ab" * 32 not in run.stderr + run.stdout
    assert mode(secrets) == 0o644  # left for its owner to look at: it may have leaked


def test_sqlite_files_and_their_companions_are_created_owner_only(tmp_path: Path) -> None:
    with umask(0o022):
        store = SqliteStateStore(tmp_path / "db" / "state.db")
        store.put("kind", "key", {"v": 1}, etag=None)  # WAL mode: -wal and -shm appear
        created = {path.name: mode(path) for path in (tmp_path / "db").iterdir()}
        store.close()
    assert mode(tmp_path / "db") == 0o700
    assert created == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600}


def test_the_chain_key_is_created_once_owner_only(tmp_path: Path) -> None:
    from shared.adapters.local.secret_store import EnvFileSecretStore

    with umask(0o022):
        store = EnvFileSecretStore(tmp_path / "home" / "secrets.json")
        first = store.ensure("audit-chain-key", lambda: "ab" * 32)
        again = store.ensure("audit-chain-key", lambda: "cd" * 32)
    assert first == again == "ab" * 32
    assert mode(tmp_path / "home" / "secrets.json") == 0o600
    assert mode(tmp_path / "home") == 0o700
