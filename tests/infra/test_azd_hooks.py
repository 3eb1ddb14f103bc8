"""The azd hooks: azure.yaml against the rules of azd's schema, a POSIX script and a
PowerShell twin for every hook, and the postdeploy hook run for real against fake `az` and
`azd` (tests/infra/fake_azure_cli.py) that answer lists and record every call."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import REPO
from tests.infra.test_pipelines import AZURE_YAML, OFFLINE, load
from tests.tools import missing_tool

HOOKS = REPO / "infra" / "hooks"
ENABLE = HOOKS / "enable-event-subscriptions.sh"
ROUTING = REPO / "infra" / "event-routing.json"
SCHEMA = Path(__file__).with_name("azure_yaml.schema.json")
FAKE = Path(__file__).with_name("fake_azure_cli.py")


def test_azure_yaml_follows_the_azd_schema_rules() -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        missing_tool("check-jsonschema is not installed (requirements-dev.txt)")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), str(AZURE_YAML)],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _hooks() -> dict[str, Any]:
    hooks: dict[str, Any] = load(AZURE_YAML)["hooks"]
    return hooks


@pytest.mark.parametrize("name", ["preprovision", "postdeploy"])
def test_every_hook_has_a_posix_script_and_its_powershell_twin(name: str) -> None:
    hook = _hooks()[name]
    assert set(hook) == {"posix", "windows"}
    posix, windows = hook["posix"], hook["windows"]
    assert posix["shell"] == "sh" and windows["shell"] == "pwsh"
    # azd runs a `run` that names a file from the project root; a path is no inline script.
    sh, ps1 = REPO / posix["run"], REPO / windows["run"]
    assert sh.suffix == ".sh" and ps1.suffix == ".ps1"
    assert sh.with_suffix("") == ps1.with_suffix(""), "twins share a name"
    assert sh.is_file() and ps1.is_file()
    assert os.access(sh, os.X_OK), "azd executes a POSIX hook file directly"
    for side in (posix, windows):
        assert side["continueOnError"] == "false", "a failing hook must stop azd"


def test_every_hook_script_is_wired_in_azure_yaml() -> None:
    wired = {REPO / side["run"] for hook in _hooks().values() for side in hook.values()}
    assert wired == {*HOOKS.glob("*.sh"), *HOOKS.glob("*.ps1")}


# `az ...` / `azd ...` sub-commands as they appear in either language (first two or three
# words, options dropped), so a step added to one twin and not the other fails.
COMMAND = re.compile(r"\b(azd? (?:[a-z][a-z-]*)(?: [a-z][a-z-]*){0,2})")


def _commands(path: Path) -> set[str]:
    code = "\n".join(
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )
    return {m.group(1) for m in COMMAND.finditer(code)}


@pytest.mark.parametrize("stem", ["create-app-registration", "enable-event-subscriptions"])
def test_twins_run_the_same_commands(stem: str) -> None:
    sh, ps1 = _commands(HOOKS / f"{stem}.sh"), _commands(HOOKS / f"{stem}.ps1")
    assert sh == ps1
    assert sh, "the hooks do their work through az and azd"


@pytest.mark.parametrize("path", sorted(HOOKS.glob("*.ps1")), ids=lambda p: p.name)
def test_powershell_twins_parse(path: Path) -> None:
    """No PowerShell here to run them; tree-sitter's PowerShell grammar at least proves them
    well-formed (a missing brace or quote is an ERROR node)."""
    try:
        tree_sitter: Any = importlib.import_module("tree_sitter")
        grammar: Any = importlib.import_module("tree_sitter_powershell")
    except ImportError:
        missing_tool("tree-sitter and tree-sitter-powershell are not installed (requirements-dev)")
    parser = tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    tree = parser.parse(path.read_bytes())
    assert not tree.root_node.has_error, path.name


# --- The postdeploy hook, run with fake az and azd -------------------------------------------

ROUTED = sorted({s["function"] for s in json.loads(ROUTING.read_text())["subscriptions"]})
APP = "func-mlops-abc"
ENV = {"AZURE_FUNCTION_APP_NAME": APP, "AZURE_RESOURCE_GROUP": "rg-mlops"}


class Hook:
    def __init__(self, tmp: Path, state: dict[str, Any]) -> None:
        self.state_file = tmp / "state.json"
        self.state_file.write_text(json.dumps(state), encoding="utf-8")
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        for tool in ("az", "azd"):
            wrapper = bin_dir / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" {tool} "$@"\n')
            wrapper.chmod(0o755)
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZURE_STATE": str(self.state_file),
            "MLOPS_FUNCTION_INDEX_INTERVAL": "0",
        }

    def run(self, timeout: int = 30) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "MLOPS_FUNCTION_INDEX_TIMEOUT": str(timeout)}
        return subprocess.run(
            ["bash", str(ENABLE)], capture_output=True, text=True, env=env, timeout=60, check=False
        )

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return state

    def calls(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.state["calls"] if c[: len(prefix)] == list(prefix)]


def _lists(hook: Hook) -> list[list[str]]:
    return hook.calls("az", "functionapp", "function", "list")


def test_the_routed_functions_are_read_from_event_routing() -> None:
    assert ROUTED == ["on_blob_created", "on_image_pushed", "on_model_registered"]


def test_waits_until_every_routed_function_is_listed_then_provisions(tmp_path: Path) -> None:
    listed = [f"{APP}/{name}" for name in ROUTED]
    hook = Hook(tmp_path, {"env": ENV, "lists": [[], listed[:1], [*listed, f"{APP}/api_status"]]})
    result = hook.run()
    assert result.returncode == 0, result.stderr
    assert len(_lists(hook)) == 3, "listed until the last routed function appeared"
    (call,) = {tuple(c) for c in _lists(hook)}
    assert call[call.index("--name") + 1] == APP
    assert call[call.index("--resource-group") + 1] == "rg-mlops"
    calls = hook.state["calls"]
    last_list = max(i for i, c in enumerate(calls) if c[:2] == ["az", "functionapp"])
    provision = calls.index(["azd", "provision", "--no-prompt"])
    assert provision > last_list, "provision only once the functions are indexed"
    assert hook.state["env"]["DEPLOY_EVENT_SUBSCRIPTIONS"] == "true"
    assert "on_image_pushed" in result.stdout


def test_gives_up_after_the_timeout_naming_what_is_missing(tmp_path: Path) -> None:
    listed = [f"{APP}/on_blob_created", f"{APP}/on_model_registered"]
    hook = Hook(tmp_path, {"env": ENV, "lists": [listed]})
    result = hook.run(timeout=0)
    assert result.returncode == 1
    assert "Timed out after 0s" in result.stderr
    assert "on_image_pushed" in result.stderr and "on_blob_created" not in result.stderr
    assert "azd hooks run postdeploy" in result.stderr, "says how to retry"
    assert hook.calls("azd", "provision") == []
    assert "DEPLOY_EVENT_SUBSCRIPTIONS" not in hook.state["env"], "the next run tries again"


def test_a_failing_list_is_retried_and_its_error_shown_at_the_timeout(tmp_path: Path) -> None:
    error = "ERROR: (AuthorizationFailed) The client does not have authorization"
    hook = Hook(tmp_path, {"env": ENV, "lists": [{"error": error}]})
    result = hook.run(timeout=0)
    assert result.returncode == 1
    assert error in result.stderr
    assert hook.calls("azd", "provision") == []


def test_a_failed_provision_leaves_the_subscriptions_to_the_next_run(tmp_path: Path) -> None:
    listed = [f"{APP}/{name}" for name in ROUTED]
    hook = Hook(tmp_path, {"env": ENV, "lists": [listed], "provision_exit": 1})
    result = hook.run()
    assert result.returncode != 0
    assert len(hook.calls("azd", "provision")) == 1
    assert hook.state["env"]["DEPLOY_EVENT_SUBSCRIPTIONS"] == "false"


def test_nothing_to_do_once_the_subscriptions_are_deployed(tmp_path: Path) -> None:
    hook = Hook(tmp_path, {"env": {**ENV, "DEPLOY_EVENT_SUBSCRIPTIONS": "true"}, "lists": [[]]})
    result = hook.run()
    assert result.returncode == 0, result.stderr
    assert _lists(hook) == [] and hook.calls("azd", "provision") == []


def test_refuses_to_wait_for_an_app_it_cannot_name(tmp_path: Path) -> None:
    hook = Hook(tmp_path, {"env": {"AZURE_RESOURCE_GROUP": "rg-mlops"}, "lists": [[]]})
    result = hook.run()
    assert result.returncode == 1
    assert "AZURE_FUNCTION_APP_NAME" in result.stderr and "azd provision first" in result.stderr
    assert _lists(hook) == [] and hook.calls("azd", "provision") == []
