"""infra/main.bicep as a whole, read as `azd up` will deploy it, with no Bicep compiler here.

Wiring: every module gets only parameters it declares and every one it requires, and every
``module.outputs.NAME`` that a file reads is an output of that module. Names: each resource
name main.bicep builds, worked out for the longest environment name it accepts and for one with
the characters azd allows but Azure names do not, is within that resource type's length and
character rules (Learn: "Naming rules and restrictions for Azure resources"); the online
endpoint's name carries the deployment's token, because it must be unique in the region.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings
from tests.infra.bicep import MAIN, bicep_files, module_params, parsed, variable

# uniqueString() is 13 characters, lower-case letters and digits.
TOKEN = "a1b2c3d4e5f6g"
# What azd accepts as an environment name (azure-dev pkg/environment: ^[a-zA-Z0-9-\(\)_\.]{1,64}$)
# within main.bicep's @maxLength(40), starting and ending with a letter or digit.
LONGEST = "E" * 40
AZD_CHARACTERS = "Dev_1.(b)-" + "x" * 29 + "9"


def _modules(path: Path) -> dict[str, dict[str, Any]]:
    modules: dict[str, dict[str, Any]] = parsed(path).get("modules", {})
    return modules


def _target(path: Path, module: dict[str, Any]) -> Path:
    return (path.parent / str(module["detail"]["path"])).resolve()


def _outputs_read(expression: Any) -> Iterator[tuple[str, str]]:
    """Every ``symbol.outputs.name`` in an expression (pycep nests accessors to the right;
    interpolated strings stay text)."""
    if isinstance(expression, dict):
        operator = expression.get("operator")
        if isinstance(operator, dict) and operator.get("type") == "property_accessor":
            owner, rest = operator["operands"]["operand_1"], operator["operands"]["operand_2"]
            inner = rest.get("operator", {}) if isinstance(rest, dict) else {}
            if (
                isinstance(owner, str)
                and inner.get("type") == "property_accessor"
                and inner["operands"]["operand_1"] == "outputs"
            ):
                yield owner, str(inner["operands"]["operand_2"])
        for value in expression.values():
            yield from _outputs_read(value)
    elif isinstance(expression, list):
        for value in expression:
            yield from _outputs_read(value)
    elif isinstance(expression, str):
        yield from re.findall(r"(\w+)\.outputs\.(\w+)", expression)


def test_every_module_gets_the_parameters_it_declares_and_requires() -> None:
    checked = 0
    for path in bicep_files():
        for symbol, module in _modules(path).items():
            declared = parsed(_target(path, module)).get("parameters", {})
            passed = set(module_params(path, symbol))
            required = {name for name, p in declared.items() if p.get("default") is None}
            assert passed <= set(declared), f"{symbol}: unknown {sorted(passed - set(declared))}"
            assert required <= passed, f"{symbol}: missing {sorted(required - passed)}"
            checked += 1
    assert checked >= 14  # main.bicep's 13 modules and event-grid's subscription module


def test_every_module_output_read_exists() -> None:
    read = 0
    for path in bicep_files():
        modules = _modules(path)
        body = {key: value for key, value in parsed(path).items() if key != "globals"}
        for symbol, name in _outputs_read(body):
            if symbol in modules:
                outputs = parsed(_target(path, modules[symbol])).get("outputs", {})
                assert name in outputs, f"{path.name}: {symbol}.outputs.{name} does not exist"
                read += 1
    assert read >= 40


def test_main_parameters_azd_cannot_fill_are_in_main_parameters_json() -> None:
    """A parameter without a default must come from main.parameters.json (azd fills it from
    the environment), or `azd provision` stops and asks."""
    parameters = parsed(MAIN)["parameters"]
    required = {name for name, p in parameters.items() if p.get("default") is None}
    listed = (MAIN.parent / "main.parameters.json").read_text()
    assert required == {"environmentName", "location"}
    assert all(f'"{name}"' in listed for name in required)


# --- names ----------------------------------------------------------------------------------


def _evaluate(text: str, env: Mapping[str, str]) -> str:
    """An interpolated name: ``${name}`` and ``${take(name, n)}`` over params and vars."""

    def one(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        take = re.fullmatch(r"take\((\w+),\s*(\d+)\)", expression)
        if take:
            return env[take.group(1)][: int(take.group(2))]
        return env[expression]

    return re.sub(r"\$\{([^}]*)\}", one, text)


def _slug(environment_name: str) -> str:
    """main.bicep's envSlug, which must be exactly this replace() chain."""
    expression = variable(MAIN, "envSlug")
    replaced: list[tuple[str, str]] = []
    while isinstance(expression, dict):
        parameters = expression["function"]["parameters"]
        assert expression["function"]["type"] == "replace", expression
        replaced.append((parameters["old_string"], parameters["new_string"]))
        expression = parameters["original_string"]
    assert expression == "environmentName"
    assert sorted(old for old, _ in replaced) == sorted("_.()")
    assert {new for _, new in replaced} == {"-"}
    return re.sub(r"[_.()]", "-", environment_name)


def names(environment_name: str) -> dict[str, list[str]]:
    """Resource type -> the names main.bicep gives resources of that type."""
    env = {"environmentName": environment_name, "token": TOKEN}
    env["envSlug"] = _slug(environment_name)
    env["prefix"] = _evaluate(variable(MAIN, "prefix"), env)
    main = parsed(MAIN)

    def param(symbol: str, name: str) -> str:
        return _evaluate(module_params(MAIN, symbol)[name], env)

    identities = ["functionIdentityName", "endpointIdentityName", "computeIdentityName"]
    topics = [f"{param('eventGrid', 'namePrefix')}-{key}" for key in ("storage", "ml-workspace")]
    topics.append(f"{param('eventGrid', 'namePrefix')}-container-registry")
    return {
        "resourceGroups": [_evaluate(main["resources"]["rg"]["config"]["name"], env)],
        "userAssignedIdentities": [param("identities", name) for name in identities],
        "storageAccounts": [param(s, "name") for s in ("hostStorage", "dataStorage", "mlStorage")],
        "vaults": [param("keyVault", "name")],
        "registries": [param("registry", "name")],
        "ml/workspaces": [param("workspace", "name")],
        "ml/computes": [variable(MAIN, "computeName")],
        "sites": [param("functionApp", "name")],
        "serverfarms": [param("functionApp", "planName")],
        "operationalInsights/workspaces": [param("monitoring", "logAnalyticsName")],
        "systemTopics": topics,
        "onlineEndpoints": [_evaluate(_default_endpoint_name(), env)],
    }


def _default_endpoint_name() -> str:
    """The app's endpoint (MLOPS_ENDPOINT_NAME) when the endpointName parameter is left empty."""
    setting = module_params(MAIN, "functionApp")["mlopsSettings"]["MLOPS_ENDPOINT_NAME"]
    default = parsed(MAIN)["parameters"]["endpointName"]["default"]
    if setting == "endpointName":  # the parameter itself
        return str(default)
    assert setting == "onlineEndpointName", setting
    conditional = variable(MAIN, "onlineEndpointName")["operator"]["operands"]
    assert conditional["condition"] == {
        "function": {"type": "empty", "parameters": {"item_to_test": "endpointName"}}
    }
    assert conditional["false_value"] == "endpointName" and default == ""
    return str(conditional["true_value"])


# Length range and pattern per type (Learn: "Naming rules and restrictions for Azure
# resources"; workspaces: the Bicep type's pattern; online endpoints: Learn "Manage and increase
# quotas", managed online endpoint limits: 3-32, start with a letter, single dashes).
ALNUM_HYPHEN_ENDS = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
RULES: dict[str, tuple[int, int, str]] = {
    "resourceGroups": (1, 90, r"[\w().-]*[^.]"),
    "userAssignedIdentities": (3, 128, r"[A-Za-z0-9][A-Za-z0-9_-]*"),
    "storageAccounts": (3, 24, r"[a-z0-9]+"),
    "vaults": (3, 24, r"[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]"),
    "registries": (5, 50, r"[A-Za-z0-9]+"),
    "ml/workspaces": (3, 33, r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}"),
    "ml/computes": (3, 32, r"[A-Za-z0-9-]+"),
    "sites": (2, 60, ALNUM_HYPHEN_ENDS),
    "serverfarms": (1, 60, r"[A-Za-z0-9-]+"),
    "operationalInsights/workspaces": (4, 63, ALNUM_HYPHEN_ENDS),
    "systemTopics": (3, 128, r"[A-Za-z0-9-]+"),
    "onlineEndpoints": (3, 32, r"[A-Za-z](-?[A-Za-z0-9])*"),
}


@pytest.mark.parametrize("environment_name", [LONGEST, AZD_CHARACTERS, "d"], ids=str)
def test_every_name_is_within_its_type_s_rules(environment_name: str) -> None:
    assert len(AZD_CHARACTERS) == 40
    built = names(environment_name)
    assert set(built) == set(RULES)
    for kind, values in built.items():
        low, high, pattern = RULES[kind]
        for name in values:
            assert low <= len(name) <= high, f"{kind} {name!r}: {len(name)} characters"
            assert re.fullmatch(pattern, name), f"{kind} {name!r} does not match {pattern}"


def test_the_online_endpoint_name_is_unique_to_the_deployment() -> None:
    """Its scoring URI is <name>.<region>.inference.ml.azure.com: a fixed name such as
    spam-endpoint is anyone's, and the first rollout's create would fail on it."""
    (endpoint,) = names("dev")["onlineEndpoints"]
    assert TOKEN[:8] in endpoint
    assert re.fullmatch(r"^[A-Za-z][A-Za-z0-9-]{2,31}$", endpoint)  # the manual API's pattern
    assert "MLOPS_ENDPOINT_NAME" in parsed(MAIN)["outputs"]


def test_names_keep_the_environment_but_tags_keep_it_exact() -> None:
    """azd finds its resource group by the azd-env-name tag: only names use the slug."""
    tags = variable(MAIN, "tags")
    assert tags["'azd-env-name'"] == "environmentName"  # pycep keeps a quoted key's quotes
    assert names("a_b")["resourceGroups"] == ["rg-mlops-a-b"]


# --- the azd environment's values, as the hooks, pipelines and README read them -----------

# What azd itself puts in an environment, and what the hooks write with `azd env set`.
AZD_SETS = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID", "AZURE_PRINCIPAL_ID"}
HOOKS_SET = {"API_CLIENT_ID", "DEPLOY_EVENT_SUBSCRIPTIONS"}
READERS = r"(?:azd env get-value|azd_value|Get-AzdValue)\s+['\"]?([A-Z][A-Z0-9_]+)"


def test_every_environment_value_read_is_an_output_or_set_by_azd() -> None:
    """A renamed output leaves `azd env get-value OLD` answering "ERROR: ...": the hooks and
    pipelines would stop after a whole provision."""
    repo = MAIN.parent.parent
    sources = [*sorted((repo / "infra" / "hooks").iterdir()), repo / "azure-pipelines.yml"]
    sources += sorted((repo / ".github" / "workflows").glob("*.yml"))
    sources += sorted((repo / "infra" / "pipelines").glob("*.sh"))
    read = {name for path in sources for name in re.findall(READERS, path.read_text())}
    readme = (repo / "README.md").read_text()
    deploy = readme.split("## Deploy to Azure", 1)[1].split("\n## ", 1)[0]
    read |= set(re.findall(r"\$\{?(AZURE_[A-Z0-9_]+)", deploy))
    assert {"AZURE_FUNCTION_APP_NAME", "AZURE_KEY_VAULT_NAME"} <= read  # the scan sees them
    known = set(parsed(MAIN)["outputs"]) | AZD_SETS | HOOKS_SET
    assert read - known == set()


def test_the_audit_key_the_hook_creates_is_the_one_the_app_reads() -> None:
    """The postprovision hook names the secret from MLOPS_AUDIT_KEY_SECRET (its shell, else the
    azd environment, else the default); the app from its app setting, else Settings' default.
    One parameter feeds the app setting and the output the hook reads, from the same azd
    value: an override reaches both, or the app would look for a key nobody created."""
    default = Settings.model_fields["audit_key_secret"].default
    parameter = parsed(MAIN)["parameters"]["auditKeySecretName"]
    assert parameter["default"] == default
    settings = module_params(MAIN, "functionApp")["mlopsSettings"]
    assert settings["MLOPS_AUDIT_KEY_SECRET"] == "auditKeySecretName"
    assert parsed(MAIN)["outputs"]["MLOPS_AUDIT_KEY_SECRET"]["value"] == "auditKeySecretName"
    listed = json.loads((MAIN.parent / "main.parameters.json").read_text())["parameters"]
    assert listed["auditKeySecretName"] == {"value": f"${{MLOPS_AUDIT_KEY_SECRET={default}}}"}
    hooks = MAIN.parent / "hooks"
    for hook, fallback in {
        "create-audit-chain-key.sh": f'secret="${{secret:-{default}}}"',
        "create-audit-chain-key.ps1": f"$secret = '{default}'",
    }.items():
        text = (hooks / hook).read_text()
        assert "MLOPS_AUDIT_KEY_SECRET" in text and fallback in text, hook
