"""The azd hooks: azure.yaml against the rules of azd's schema, a POSIX script and a
PowerShell twin for every hook, and the postdeploy and postprovision hooks run for real
against fake `az` and `azd` (tests/infra/fake_azure_cli.py) that answer and record every
call."""

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

from shared.adapters.azure.backend import chain_key_from
from shared.ports import TransientError
from tests.fakes import NoSecrets
from tests.infra.bicep import REPO
from tests.infra.fake_azure_cli import FORBIDDEN
from tests.infra.test_pipelines import AZURE_YAML, OFFLINE, load
from tests.tools import missing_tool

HOOKS = REPO / "infra" / "hooks"
ENABLE = HOOKS / "enable-event-subscriptions.sh"
CHAIN_KEY = HOOKS / "create-audit-chain-key.sh"
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


@pytest.mark.parametrize("name", ["preprovision", "postprovision", "postdeploy"])
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


@pytest.mark.parametrize(
    "stem", ["create-app-registration", "create-audit-chain-key", "enable-event-subscriptions"]
)
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
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
        self.env = {
            **inherited,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZURE_STATE": str(self.state_file),
            "MLOPS_FUNCTION_INDEX_INTERVAL": "0",
            "MLOPS_KEY_VAULT_ROLE_INTERVAL": "0",
        }

    def run(self, timeout: int = 30, script: Path = ENABLE) -> subprocess.CompletedProcess[str]:
        env = {
            **self.env,
            "MLOPS_FUNCTION_INDEX_TIMEOUT": str(timeout),
            "MLOPS_KEY_VAULT_ROLE_TIMEOUT": str(timeout),
        }
        return subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, env=env, timeout=60, check=False
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
    # on_job_finished takes two routes (RunCompleted, RunStatusChanged): listed once.
    assert ROUTED == [
        "on_blob_created",
        "on_image_pushed",
        "on_job_finished",
        "on_model_registered",
    ]


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


# --- The postprovision hook: the audit chain key, created once if absent ----------------------

VAULT = "kv-abc123"
KEY_NAME = "audit-chain-key"
KV_ENV = {"AZURE_KEY_VAULT_NAME": VAULT}
SECRET = re.compile(r"^[0-9a-f]{64}$")


def _chain_key_hook(tmp: Path, **state: Any) -> Hook:
    return Hook(tmp, {"env": KV_ENV, "vault": {"name": VAULT, "secrets": {}}, **state})


def _kv(hook: Hook, verb: str) -> list[list[str]]:
    return hook.calls("az", "keyvault", "secret", verb)


def _stored(hook: Hook) -> dict[str, Any]:
    secrets: dict[str, Any] = hook.state["vault"]["secrets"]
    return secrets


def test_an_absent_key_is_created_once_from_a_private_file_and_never_shown(
    tmp_path: Path,
) -> None:
    hook = _chain_key_hook(tmp_path)
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 0, result.stderr
    (created,) = _stored(hook).values()
    value = created["value"]
    assert SECRET.match(value), "32 random bytes, stored as the 64 hex characters the app reads"
    assert created["tags"] == {"file-encoding": "hex"}
    assert created["file_mode"] & 0o077 == 0, "the key file is the owner's alone"
    assert not Path(created["file"]).exists(), "and removed afterwards"
    (set_call,) = _kv(hook, "set")
    assert set_call[set_call.index("--name") + 1] == KEY_NAME
    assert set_call[set_call.index("--vault-name") + 1] == VAULT
    shown = json.dumps(hook.state["calls"]) + json.dumps(hook.state["env"])
    assert value not in shown + result.stdout + result.stderr, "never on a command line or shown"
    assert "created in Key Vault kv-abc123" in result.stdout

    again = hook.run(script=CHAIN_KEY)  # every later provision: present, so left alone
    assert again.returncode == 0, again.stderr
    assert len(_kv(hook, "set")) == 1 and _stored(hook)[KEY_NAME]["value"] == value
    assert "left as it is" in again.stdout


def test_a_present_key_is_never_overwritten(tmp_path: Path) -> None:
    existing = {KEY_NAME: {"value": "ab" * 32}}
    hook = Hook(tmp_path, {"env": KV_ENV, "vault": {"name": VAULT, "secrets": existing}})
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 0, result.stderr
    assert _kv(hook, "set") == []
    assert _stored(hook) == existing
    (show,) = _kv(hook, "show")
    assert show[show.index("--query") + 1] == "id", "only the id is read, never the value"


def test_the_secret_name_follows_the_app_setting(tmp_path: Path) -> None:
    hook = _chain_key_hook(tmp_path)
    hook.env["MLOPS_AUDIT_KEY_SECRET"] = "chain-key-2"
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 0, result.stderr
    assert set(_stored(hook)) == {"chain-key-2"}


def test_a_role_not_yet_applied_is_waited_for_then_the_key_is_created(tmp_path: Path) -> None:
    errors = {
        "show": [FORBIDDEN.format(action="getSecret/action")] * 2,
        "set": [FORBIDDEN.format(action="setSecret/action")],
    }
    hook = _chain_key_hook(tmp_path, kv_errors=errors)
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 0, result.stderr
    assert len(_kv(hook, "show")) == 3 and len(_kv(hook, "set")) == 2
    assert SECRET.match(_stored(hook)[KEY_NAME]["value"])
    assert result.stdout.count("waiting for the role assignment to apply") == 3


def test_a_role_that_never_applies_gives_up_at_the_timeout(tmp_path: Path) -> None:
    forbidden = FORBIDDEN.format(action="getSecret/action")
    hook = _chain_key_hook(tmp_path, kv_errors={"show": [forbidden] * 5})
    result = hook.run(timeout=0, script=CHAIN_KEY)
    assert result.returncode == 1
    assert "Timed out after 0s" in result.stderr and "Key Vault Secrets Officer" in result.stderr
    assert "ForbiddenByRbac" in result.stderr, "the last error is shown"
    assert "azd hooks run postprovision" in result.stderr, "says how to retry"
    assert _kv(hook, "set") == [] and _stored(hook) == {}


def test_any_other_failure_stops_at_once_and_changes_nothing(tmp_path: Path) -> None:
    error = "ERROR: Please run 'az login' to setup account."
    hook = _chain_key_hook(tmp_path, kv_errors={"show": [error]})
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 1
    assert error in result.stderr and "Nothing was changed" in result.stderr
    assert len(_kv(hook, "show")) == 1, "not retried"
    assert _kv(hook, "set") == [] and _stored(hook) == {}


def test_a_soft_deleted_key_is_to_be_recovered_not_replaced(tmp_path: Path) -> None:
    vault = {"name": VAULT, "secrets": {}, "deleted": [KEY_NAME]}
    hook = Hook(tmp_path, {"env": KV_ENV, "vault": vault})
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 1
    assert f"az keyvault secret recover --vault-name {VAULT} --name {KEY_NAME}" in result.stderr
    assert "never purge" in result.stderr
    assert len(_kv(hook, "set")) == 1 and _stored(hook) == {}


def test_refuses_without_a_vault_name(tmp_path: Path) -> None:
    hook = Hook(tmp_path, {"env": {}, "vault": {"name": VAULT, "secrets": {}}})
    result = hook.run(script=CHAIN_KEY)
    assert result.returncode == 1
    assert "AZURE_KEY_VAULT_NAME" in result.stderr
    assert _kv(hook, "show") == []


def test_the_app_names_this_hook_when_the_key_is_missing() -> None:
    with pytest.raises(TransientError) as missing:
        chain_key_from(NoSecrets(), KEY_NAME)()
    message = str(missing.value)
    assert "azd hooks run postprovision" in message
    assert CHAIN_KEY.relative_to(REPO).as_posix() in message
    assert "--value" not in message, "no advice to put a key on a command line"
