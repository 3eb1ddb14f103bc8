"""The inference server's venv runs the Azure inference environment's Python and pins (the pip
section of training/environment/inference-conda.yml), so local deployments serve score.py the
way Azure ML will."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from shared.adapters.local.inference_server import azmlinfsrv
from tests.tools import missing_tool

REPO = Path(__file__).resolve().parents[2]
CONDA = REPO / "training" / "environment" / "inference-conda.yml"
PROBE = """
import importlib.metadata, json, sys
print(json.dumps({"python": "%d.%d" % sys.version_info[:2],
                  "versions": {d.metadata["Name"].lower().replace("_", "-"): d.version
                               for d in importlib.metadata.distributions()}}))
"""


def conda_environment() -> tuple[str, dict[str, str]]:
    spec = yaml.safe_load(CONDA.read_text())
    python = next(d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("python="))
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    pins: dict[str, str] = {}
    for line in pip:
        name, sep, version = line.partition("==")
        assert sep, f"{CONDA.name}: not pinned with ==: {line}"
        pins[name.lower().replace("_", "-")] = version
    return python.removeprefix("python="), pins


def test_the_server_venv_has_the_azure_inference_pins() -> None:
    server = azmlinfsrv()
    python = server.parent / "python"
    if not python.is_file():
        missing_tool(f"the inference server's venv is not at {server.parent} (`make tools`)")
    out = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    wanted_python, wanted = conda_environment()
    assert found["python"] == wanted_python
    assert {name: found["versions"].get(name) for name in wanted} == wanted
