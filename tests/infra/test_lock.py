"""The dependency lock. requirements.txt is what Flex Consumption's remote build installs (Oryx
runs ``pip install -r requirements.txt``, and pip checks every hash as soon as one line has one),
so it must pin, with hashes, every package that requirements.in pulls in on Linux x86_64 /
CPython 3.13, and agree with requirements.in. Also the audit allow-list, what `make` does with
both, and what the Function App package leaves out (.funcignore)."""

from __future__ import annotations

import fnmatch
import importlib.metadata
import platform
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.infra.bicep import REPO

LOCK = REPO / "requirements.txt"
DIRECT = REPO / "requirements.in"
DEV = REPO / "requirements-dev.txt"
MAKEFILE = REPO / "Makefile"
ALLOWLIST = REPO / "audit-allowlist.txt"
FUNCIGNORE = REPO / ".funcignore"
# pip-audit's ids: PyPI advisories, GitHub advisories, CVEs (and OSV's own, for other services).
VULN_ID = r"(?:PYSEC-\d{4}-\d+|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|CVE-\d{4}-\d+|OSV-\d{4}-\d+)"


@dataclass(frozen=True)
class Locked:
    version: str
    hashes: tuple[str, ...]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def without_comment(line: str) -> str:
    return re.sub(r"(^|\s)#.*", "", line).strip()


def parse_lock(text: str) -> dict[str, Locked]:
    """``name==version --hash=sha256:… …`` entries, continuation lines joined."""
    locked: dict[str, Locked] = {}
    for raw in text.replace("\\\n", " ").splitlines():
        line = without_comment(raw)
        if not line:
            continue
        spec, *options = line.split()
        name, sep, version = spec.partition("==")
        assert sep, f"not pinned with ==: {spec}"
        assert all(option.startswith("--hash=") for option in options), line
        locked[canonical(name)] = Locked(version, tuple(o.removeprefix("--hash=") for o in options))
    return locked


def pins(path: Path) -> dict[str, str]:
    """The ``name==version`` lines of a requirements file (options and includes skipped)."""
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = without_comment(raw)
        if line and not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: not pinned with ==: {line}"
            found[canonical(name)] = version
    return found


def installed_closure(roots: list[str]) -> dict[str, str]:
    """Every distribution ``roots`` need in this interpreter, per its installed metadata (markers
    and extras evaluated here), with its installed version."""
    found: dict[str, str] = {}
    stack: list[tuple[str, frozenset[str]]] = [(root, frozenset()) for root in roots]
    while stack:
        name, extras = stack.pop()
        dist = importlib.metadata.distribution(name)
        key = canonical(name)
        if key in found and not extras:
            continue
        found[key] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            )
            if wanted:
                stack.append((requirement.name, frozenset(requirement.extras)))
    return found


def makefile_recipe(target: str) -> str:
    """The recipe lines of ``target`` in the Makefile, joined."""
    lines = MAKEFILE.read_text().splitlines()
    for start, rule in enumerate(lines):
        if not rule.startswith(f"{target}:"):
            continue
        body = []
        for line in lines[start + 1 :]:
            if not line.startswith("\t"):
                break
            body.append(line.strip())
        if body:
            return "\n".join(body)
    raise AssertionError(f"no recipe for {target}")


def test_every_locked_package_is_pinned_with_sha256_hashes() -> None:
    locked = parse_lock(LOCK.read_text())
    assert len(locked) > len(pins(DIRECT)), "the lock holds the transitive packages too"
    for name, entry in locked.items():
        assert entry.hashes, f"{name} has no hash: pip would refuse the whole file"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in entry.hashes), name


def test_the_lock_pins_every_direct_requirement_at_its_version() -> None:
    locked = parse_lock(LOCK.read_text())
    for name, version in pins(DIRECT).items():
        assert name in locked, f"{name} is in requirements.in but not in the lock: run make lock"
        assert locked[name].version == version, f"{name}: run make lock"


def test_the_functions_worker_is_pinned_for_runtime_version_control() -> None:
    # Learn, "Python 3.13+ changes": azure-functions-runtime in requirements.txt picks the
    # worker; pinned, it changes only when we say so.
    assert "azure-functions-runtime" in pins(DIRECT)
    assert "azure-functions-runtime" in parse_lock(LOCK.read_text())


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 13) or platform.machine() != "x86_64" or sys.platform != "linux",
    reason="the lock is for Linux x86_64 / CPython 3.13, what Flex Consumption runs",
)
def test_the_lock_is_exactly_what_requirements_in_needs_and_what_is_installed() -> None:
    """`make` installed the lock with --require-hashes: every package requirements.in needs
    here is locked at the installed version, and the lock holds nothing else."""
    locked = parse_lock(LOCK.read_text())
    needed = installed_closure(list(pins(DIRECT)))
    assert sorted(set(needed) - set(locked)) == [], "needed but not locked: run make lock"
    assert sorted(set(locked) - set(needed)) == [], "locked but not needed: run make lock"
    moved = {
        name: (v, locked[name].version) for name, v in needed.items() if v != locked[name].version
    }
    assert moved == {}, "installed (left) differs from the lock (right): run make"


def test_dev_pins_agree_with_the_lock_and_build_on_the_direct_pins() -> None:
    locked = parse_lock(LOCK.read_text())
    for name, version in pins(DEV).items():
        if name in locked:
            assert locked[name].version == version, f"requirements-dev.txt moves {name}"
    includes = [line.split()[1] for line in DEV.read_text().splitlines() if line.startswith("-r ")]
    # requirements.txt has hashes: included here, pip would demand hashes of the dev pins too.
    assert includes == ["requirements.in"]


def test_the_inference_server_is_not_in_the_app_venv() -> None:
    """It pins pydantic~=2.11; it has its own venv so the app's pin can move."""
    assert "azureml-inference-server-http" not in pins(DEV)
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("azureml-inference-server-http")


def test_make_installs_the_hash_checked_lock_before_the_dev_packages() -> None:
    recipe = makefile_recipe("$(STAMP)")
    lock_install = recipe.index("--require-hashes -r requirements.txt")
    dev_install = recipe.index("-r requirements-dev.txt")
    assert lock_install < dev_install
    assert "-c $(VENV)/lock-constraints.txt -r requirements-dev.txt" in recipe


def test_the_dev_constraints_are_the_lock_without_its_hashes(tmp_path: Path) -> None:
    """The Makefile's sed, run on the real lock, gives a hash-free constraints file that pins
    exactly the lock's versions."""
    sed = re.search(r"^\s*(sed .*) requirements\.txt >", makefile_recipe("$(STAMP)"), re.M)
    assert sed is not None
    command = sed.group(1).replace("$$", "$")
    out = subprocess.run(
        [*shlex.split(command), "requirements.txt"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "--hash" not in out.stdout and "\\" not in out.stdout
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(out.stdout)
    assert pins(constraints) == {n: e.version for n, e in parse_lock(LOCK.read_text()).items()}


def test_the_lock_is_compiled_for_flex_consumption() -> None:
    makefile = MAKEFILE.read_text()
    assert re.search(r"^PYTHON_VERSION := 3\.13$", makefile, re.M)
    flags = re.search(r"^LOCK_FLAGS := ((?:.*\\\n)*.*)$", makefile, re.M)
    assert flags is not None
    assert "--generate-hashes" in flags.group(1)
    assert "--python-version $(PYTHON_VERSION)" in flags.group(1)
    assert "--python-platform x86_64-unknown-linux-gnu" in flags.group(1)
    lock = makefile_recipe("lock")
    assert (
        "$(UV) pip compile --quiet $(LOCK_FLAGS) requirements.in --output-file requirements.txt"
        in lock
    )
    assert LOCK.read_text().startswith("# This file was autogenerated by uv")


def allowlist_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(rf"({VULN_ID})  (\S.*)", line)
        assert match, f"not '<id>  <reason>': {line!r}"
        entries.append((match.group(1), match.group(2)))
    return entries


def test_every_accepted_vulnerability_has_a_reason() -> None:
    entries = allowlist_entries(ALLOWLIST.read_text())
    ids = [vuln for vuln, _ in entries]
    assert len(ids) == len(set(ids)), "listed twice"
    for vuln, reason in entries:
        assert len(reason.split()) >= 5, f"{vuln}: say why it is accepted"


def test_an_entry_without_a_reason_is_refused() -> None:
    with pytest.raises(AssertionError):
        allowlist_entries("GHSA-2c2j-9gv5-cj73\n")


def test_make_audit_ignores_exactly_the_listed_vulnerabilities(tmp_path: Path) -> None:
    """The Makefile's sed turns each entry into --ignore-vuln, and nothing else."""
    sample = tmp_path / "allowlist.txt"
    sample.write_text(
        "# a comment  with two spaces\n"
        "GHSA-2c2j-9gv5-cj73  starlette==0.1: only the dev server uses it, never in Azure\n"
        "PYSEC-2024-48  black==1: a formatter on our own sources, not in the package\n"
    )
    recipe = makefile_recipe("audit")
    assert "--require-hashes --disable-pip" in recipe and "--requirement requirements.txt" in recipe
    sed = re.search(r"\$\$\((sed -n '[^']*') \$\(AUDIT_ALLOWLIST\)\)", recipe)
    assert sed is not None
    out = subprocess.run(
        [*shlex.split(sed.group(1)), str(sample)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [
        "--ignore-vuln", "GHSA-2c2j-9gv5-cj73", "--ignore-vuln", "PYSEC-2024-48"
    ]  # fmt: skip


def ignored(path: str, patterns: list[str]) -> bool:
    """.gitignore-style matching, enough for .funcignore's patterns."""
    parts = path.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            if any(fnmatch.fnmatch(part, pattern[:-1]) for part in parts[:-1]):
                return True
        elif fnmatch.fnmatch(path, pattern) or any(fnmatch.fnmatch(p, pattern) for p in parts):
            return True
    return False


def test_the_package_ships_the_lock_and_leaves_build_inputs_out() -> None:
    patterns = [line for line in FUNCIGNORE.read_text().splitlines() if without_comment(line)]
    for shipped in (
        "requirements.txt",
        "function_app.py",
        "host.json",
        "shared/ops/cli/__init__.py",
    ):
        assert not ignored(shipped, patterns), shipped
    for left_out in (
        "requirements.in",
        "requirements-dev.txt",
        "audit-allowlist.txt",
        "Makefile",
        ".venv/bin/python",
        ".tools/azmlinfsrv/bin/azmlinfsrv",
        "secure_mlops_azure.egg-info/PKG-INFO",
    ):
        assert ignored(left_out, patterns), left_out
